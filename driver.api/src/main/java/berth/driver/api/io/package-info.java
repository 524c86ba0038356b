/**
 * Small I/O helpers every Berth bundle that keeps state needs, so that "durable" means the same thing in each.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package berth.driver.api.io;
