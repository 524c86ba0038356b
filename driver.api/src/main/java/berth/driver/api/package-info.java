/**
 * The caller-facing API of Berth: the {@link berth.driver.api.ComputeService} facade that the shell and
 * any other front end use, the value records it returns and the exceptions it throws.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package berth.driver.api;
