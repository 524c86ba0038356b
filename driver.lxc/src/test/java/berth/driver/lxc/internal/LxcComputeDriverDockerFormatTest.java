package berth.driver.lxc.internal;

import berth.driver.api.ContainerFormat;

/** The same contract booting {@code docker save} archives, which the LXC driver flattens into a rootfs. */
class LxcComputeDriverDockerFormatTest extends LxcComputeDriverTest {
    @Override
    protected ContainerFormat bootFormat() {
        return ContainerFormat.DOCKER;
    }
}
