package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What a peer's text becomes before it is logged, shown or passed on. */
class PeerTextTest {

    @Test
    void plainTextIsKeptAsItIs() {
        assertThat(PeerText.printable("backend at capacity: 12 of 12 (ü, 日本)", 256))
                .isEqualTo("backend at capacity: 12 of 12 (ü, 日本)");
    }

    @Test
    void everyCharacterThatCouldMoveACursorOrALineIsReplaced() {
        String hostile = "a\nb\rc\u001b[31md\u007fe\u0085f\u009bg\u2028h\u2029i\u202ej\u200bk";
        assertThat(PeerText.printable(hostile, 256)).isEqualTo("a?b?c?[31md?e?f?g?h?i?j?k");
    }

    @Test
    void longTextIsCutAtACharacterNotInsideOne() {
        String emoji = "\uD83D\uDE00"; // one character, two chars in Java
        assertThat(PeerText.printable(emoji.repeat(300), 256)).isEqualTo(emoji.repeat(256) + "...");
        assertThat(PeerText.printable("x".repeat(256), 256)).isEqualTo("x".repeat(256));
    }

    @Test
    void aLoneSurrogateIsReplaced() {
        assertThat(PeerText.printable("a\uD83Db", 256)).isEqualTo("a?b");
    }
}
