package berth.driver.docker.internal;

import berth.driver.api.InvalidInputException;
import java.util.ArrayList;
import java.util.List;

/** Splits an {@code os_command_line} the way a POSIX shell splits words (quotes and backslashes), as nova-docker did with shlex. */
final class CommandLines {
    private CommandLines() {
    }

    static List<String> split(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quote == '\'') {
                if (ch == '\'') {
                    quote = 0;
                } else {
                    w.append(ch);
                }
            } else if (quote == '"') {
                if (ch == '"') {
                    quote = 0;
                } else if (ch == '\\' && i + 1 < line.length() && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
                    w.append(line.charAt(++i));
                } else {
                    w.append(ch);
                }
            } else if (Character.isWhitespace(ch)) {
                if (inWord) {
                    words.add(w.toString());
                    w.setLength(0);
                    inWord = false;
                }
            } else {
                inWord = true;
                if (ch == '\'' || ch == '"') {
                    quote = ch;
                } else if (ch == '\\' && i + 1 < line.length()) {
                    w.append(line.charAt(++i));
                } else {
                    w.append(ch);
                }
            }
        }
        if (quote != 0) {
            throw new InvalidInputException("unbalanced quote in command line: " + line);
        }
        if (inWord) {
            words.add(w.toString());
        }
        return words;
    }
}
