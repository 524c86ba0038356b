package berth.runtime.internal.compute;

import berth.driver.api.InvalidInputException;
import java.util.ArrayList;
import java.util.List;

/** Splits a command line the way a POSIX shell splits words, without expanding anything. */
public final class CommandLine {
    private CommandLine() {
    }

    /**
     * Splits on unquoted whitespace; single quotes keep everything literally, double quotes allow {@code \"}
     * {@code \\} {@code \$} {@code \`} escapes, a backslash outside quotes escapes the next character. Nothing
     * else is interpreted (no variables, globs, pipes: the words go to exec as they are).
     *
     * @param line the command line, as the image property {@code os_command_line} holds it
     * @return the words, empty for a blank line
     * @throws InvalidInputException on an unterminated quote or trailing backslash
     */
    public static List<String> split(String line) {
        List<String> words = new ArrayList<>();
        if (line == null) {
            return words;
        }
        StringBuilder cur = new StringBuilder();
        boolean inWord = false;
        int i = 0;
        while (i < line.length()) {
            char c = line.charAt(i);
            if (c == '\'') {
                int end = line.indexOf('\'', i + 1);
                if (end < 0) {
                    throw new InvalidInputException("unterminated single quote in command line");
                }
                cur.append(line, i + 1, end);
                inWord = true;
                i = end + 1;
            } else if (c == '"') {
                i++;
                boolean closed = false;
                while (i < line.length()) {
                    char d = line.charAt(i);
                    if (d == '"') {
                        closed = true;
                        i++;
                        break;
                    }
                    if (d == '\\' && i + 1 < line.length() && "\"\\$`".indexOf(line.charAt(i + 1)) >= 0) {
                        cur.append(line.charAt(i + 1));
                        i += 2;
                        continue;
                    }
                    cur.append(d);
                    i++;
                }
                if (!closed) {
                    throw new InvalidInputException("unterminated double quote in command line");
                }
                inWord = true;
            } else if (c == '\\') {
                if (i + 1 >= line.length()) {
                    throw new InvalidInputException("trailing backslash in command line");
                }
                cur.append(line.charAt(i + 1));
                inWord = true;
                i += 2;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    words.add(cur.toString());
                    cur.setLength(0);
                    inWord = false;
                }
                i++;
            } else {
                cur.append(c);
                inWord = true;
                i++;
            }
        }
        if (inWord) {
            words.add(cur.toString());
        }
        return words;
    }

    /**
     * @param words words
     * @return a line that {@link #split} turns back into {@code words}
     */
    public static String join(List<String> words) {
        StringBuilder b = new StringBuilder();
        for (String w : words) {
            if (b.length() > 0) {
                b.append(' ');
            }
            if (!w.isEmpty() && w.matches("[A-Za-z0-9_./:=@%+,-]+")) {
                b.append(w);
            } else {
                b.append('\'').append(w.replace("'", "'\\''")).append('\'');
            }
        }
        return b.toString();
    }
}
