package io.tern.cli;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * The frames of {@code tern status --watch}. On a terminal each frame is drawn over the last in
 * place: the cursor goes home, every line clears what is left of the old one after it, and the
 * rest of the screen below the frame is cleared, so a shorter frame leaves nothing behind and the
 * screen never flickers. Elsewhere (a pipe, a file) frames follow one another as plain text, each
 * under a line with its time, without any escape code; JSON frames are one compact document per
 * line (JSON Lines) either way.
 */
final class WatchOutput {
    static final String CURSOR_HOME = "\033[H";
    static final String CLEAR_SCREEN = "\033[2J";
    static final String CLEAR_TO_LINE_END = "\033[K";
    static final String CLEAR_TO_SCREEN_END = "\033[J";

    private final boolean terminal;
    private final boolean json;
    private boolean first = true;

    WatchOutput(boolean terminal, boolean json) {
        this.terminal = terminal;
        this.json = json;
    }

    /** What to print for one poll: {@code body} (text, or one JSON document) taken at {@code at}. */
    String frame(String body, Instant at, String every) {
        if (json) {
            return body.strip() + "\n";
        }
        if (!terminal) {
            return "--- " + at.truncatedTo(ChronoUnit.MILLIS) + "\n" + body + (body.endsWith("\n") ? "" : "\n") + "\n";
        }
        String time = at.truncatedTo(ChronoUnit.SECONDS).toString();
        StringBuilder s = new StringBuilder(first ? CURSOR_HOME + CLEAR_SCREEN : CURSOR_HOME);
        first = false;
        s.append("every ").append(every).append(": tern status   ").append(time).append(CLEAR_TO_LINE_END).append('\n');
        s.append(CLEAR_TO_LINE_END).append('\n');
        String text = body.endsWith("\n") ? body.substring(0, body.length() - 1) : body;
        for (String line : text.split("\n", -1)) {
            s.append(line).append(CLEAR_TO_LINE_END).append('\n');
        }
        return s.append(CLEAR_TO_SCREEN_END).toString();
    }
}
