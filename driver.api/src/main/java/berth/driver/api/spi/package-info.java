/**
 * The service provider interfaces that backends, image sources and network providers implement. The compute
 * manager in {@code berth.runtime} is their only caller.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.1.0")
package berth.driver.api.spi;
