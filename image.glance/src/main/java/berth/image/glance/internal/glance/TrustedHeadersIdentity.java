package berth.image.glance.internal.glance;

import java.net.URI;
import java.util.List;
import java.util.Map;

/**
 * No authentication: the identity headers that Glance's {@code context} filter trusts when no authtoken filter
 * stands before it. Only for test installs on loopback.
 */
final class TrustedHeadersIdentity implements Identity {
    private final Session session;

    TrustedHeadersIdentity(URI endpoint, String project, List<String> roles) {
        this.session = new Session(endpoint, Map.of(
                "X-Identity-Status", "Confirmed",
                "X-Project-Id", project,
                "X-User-Id", "berth",
                "X-Roles", String.join(",", roles)));
    }

    @Override
    public Session session() {
        return session;
    }

    @Override
    public boolean rejected(Session refused) {
        return false;
    }

    @Override
    public String describeRefusal() {
        return "it does not trust identity headers (auth=noauth needs Glance's 'context' pipeline without authtoken)";
    }
}
