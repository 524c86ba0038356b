package berth.runtime.internal.shell;

/**
 * One registered shell command, as {@code berth:help} lists it.
 *
 * @param command     scope:function
 * @param description its descriptor
 */
public record CommandInfo(String command, String description) {
}
