package berth.driver.api;

/**
 * One backend as {@code nova:backends} shows it.
 *
 * @param name          backend name
 * @param present       whether its driver service is registered now
 * @param preferred     whether new boots go to it by default
 * @param ranking       its service ranking
 * @param engineVersion engine version, or {@code null} when absent
 * @param bundleVersion version of the bundle providing the driver, or {@code null}
 * @param instances     instances the registry assigns to it
 * @param health        one word: {@code ok}, {@code absent} or a short problem
 * @param detail        a line of explanation, possibly empty
 */
public record BackendStatus(String name, boolean present, boolean preferred, int ranking, String engineVersion,
        String bundleVersion, int instances, String health, String detail) {
}
