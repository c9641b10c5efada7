package io.handoffbroker.wire;

/**
 * Text a peer sent (a service name, a refusal's detail), made safe to log or to pass on to
 * another peer: bounded, and without control characters, so that a peer can neither forge
 * log lines nor make a reply too large to send.
 */
public final class PeerText {

    /** The most of a reason or detail a party passes on or shows: a reason, not a whole story. */
    public static final int REASON_MAX_CHARS = 256;

    private PeerText() {
    }

    /**
     * At most {@code maxChars} characters (code points) of {@code text}, then "..." when
     * there was more; each character that could move a terminal's cursor or a line's layout
     * (C0 and C1 controls, line and paragraph separators, formatting characters such as
     * bidirectional overrides) replaced by '?'.
     */
    public static String printable(String text, int maxChars) {
        String bounded = text.codePointCount(0, text.length()) > maxChars
                ? text.substring(0, text.offsetByCodePoints(0, maxChars)) + "..." : text;
        if (bounded.codePoints().allMatch(PeerText::isPrintable)) {
            return bounded;
        }
        return bounded.codePoints().map(c -> isPrintable(c) ? c : '?')
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
    }

    private static boolean isPrintable(int codePoint) {
        if (Character.isISOControl(codePoint)) {
            return false;
        }
        int type = Character.getType(codePoint);
        return type != Character.FORMAT && type != Character.LINE_SEPARATOR && type != Character.PARAGRAPH_SEPARATOR
                && type != Character.SURROGATE;
    }
}
