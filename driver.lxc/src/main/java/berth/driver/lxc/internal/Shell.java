package berth.driver.lxc.internal;

import berth.driver.api.InvalidInputException;
import java.util.ArrayList;
import java.util.List;

/** Quoting for the generated init script, and shlex-style splitting of {@code os_command_line} (as nova-docker). */
final class Shell {
    private Shell() {
    }

    static String quote(String s) {
        if (s.indexOf('\0') >= 0) {
            throw new InvalidInputException("command arguments must not contain NUL");
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }

    static List<String> split(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote == '\'') {
                if (c == '\'') {
                    quote = 0;
                } else {
                    cur.append(c);
                }
            } else if (quote == '"') {
                if (c == '"') {
                    quote = 0;
                } else if (c == '\\' && i + 1 < line.length() && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
                    cur.append(line.charAt(++i));
                } else {
                    cur.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                inWord = true;
            } else if (c == '\\' && i + 1 < line.length()) {
                cur.append(line.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    out.add(cur.toString());
                    cur.setLength(0);
                    inWord = false;
                }
            } else {
                cur.append(c);
                inWord = true;
            }
        }
        if (quote != 0) {
            throw new InvalidInputException("unbalanced quote in command line: " + line);
        }
        if (inWord) {
            out.add(cur.toString());
        }
        return out;
    }
}
