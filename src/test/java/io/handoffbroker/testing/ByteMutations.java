package io.handoffbroker.testing;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/**
 * Damage done to bytes in place, for the seeded mutation tests: each change drawn from the
 * caller's {@link Random}, so that a seed replays it, and described, so that a failure says
 * what was changed.
 */
public final class ByteMutations {

    private ByteMutations() {
    }

    /** Flips {@code count} bits at random positions; says which. */
    public static List<String> flipBits(byte[] bytes, int count, Random random) {
        List<String> flipped = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int at = random.nextInt(bytes.length);
            int bit = random.nextInt(8);
            bytes[at] ^= (byte) (1 << bit);
            flipped.add("bit " + bit + " of byte " + at + " flipped");
        }
        return flipped;
    }

    /** Sets {@code count} bytes at random positions to random values; says which. */
    public static List<String> overwriteBytes(byte[] bytes, int count, Random random) {
        List<String> written = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int at = random.nextInt(bytes.length);
            bytes[at] = (byte) random.nextInt(256);
            written.add("byte " + at + " set to " + (bytes[at] & 0xFF));
        }
        return written;
    }

    /** The parts, one after another. */
    public static byte[] concat(byte[]... parts) {
        ByteBuffer all = ByteBuffer.allocate(Arrays.stream(parts).mapToInt(part -> part.length).sum());
        Arrays.stream(parts).forEach(all::put);
        return all.array();
    }

    /** The bytes for a failure message: their number, then the first 160 in hex. */
    public static String hex(byte[] bytes) {
        int shown = Math.min(bytes.length, 160);
        return bytes.length + " bytes " + HexFormat.of().formatHex(bytes, 0, shown)
                + (shown < bytes.length ? "..." : "");
    }
}
