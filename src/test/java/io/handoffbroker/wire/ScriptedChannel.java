package io.handoffbroker.wire;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;

/**
 * A {@link ReadableByteChannel} that behaves like a non-blocking socket following
 * a script: chunks of bytes (handed out as far as the caller's buffer allows, the
 * rest kept for later), "nothing yet" (read returns 0), end of stream, or an I/O
 * error. When the script is exhausted it returns 0 forever (an idle peer), unless
 * it was told to end with EOF. It counts every byte it hands out, so a test can
 * prove that nobody read more than it should have.
 */
final class ScriptedChannel implements ReadableByteChannel {

    private sealed interface Step permits Bytes, Nothing, Eof, Failure, Tripwire {
    }

    private record Bytes(ByteBuffer data) implements Step {
    }

    private record Nothing() implements Step {
    }

    private record Eof() implements Step {
    }

    private record Failure(IOException error) implements Step {
    }

    private record Tripwire(String why) implements Step {
    }

    private final Deque<Step> script = new ArrayDeque<>();
    private long delivered;
    private int reads;
    private boolean open = true;

    ScriptedChannel bytes(byte[] data) {
        script.add(new Bytes(ByteBuffer.wrap(data.clone())));
        return this;
    }

    /** Each byte as its own chunk, with a "nothing yet" read between any two. */
    ScriptedChannel trickle(byte[] data) {
        for (byte b : data) {
            script.add(new Bytes(ByteBuffer.wrap(new byte[] {b})));
            script.add(new Nothing());
        }
        return this;
    }

    ScriptedChannel nothing() {
        script.add(new Nothing());
        return this;
    }

    ScriptedChannel eof() {
        script.add(new Eof());
        return this;
    }

    ScriptedChannel fail(IOException error) {
        script.add(new Failure(error));
        return this;
    }

    /** Any read that reaches this step (with room in its buffer) fails the test. */
    ScriptedChannel tripwire(String why) {
        script.add(new Tripwire(why));
        return this;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        reads++;
        if (!dst.hasRemaining()) {
            return 0;
        }
        while (true) {
            Step step = script.peek();
            switch (step) {
                case null -> {
                    return 0;
                }
                case Bytes(ByteBuffer data) -> {
                    if (!data.hasRemaining()) {
                        script.poll();
                        continue;
                    }
                    int n = Math.min(dst.remaining(), data.remaining());
                    ByteBuffer slice = data.slice(data.position(), n);
                    dst.put(slice);
                    data.position(data.position() + n);
                    if (!data.hasRemaining()) {
                        script.poll();
                    }
                    delivered += n;
                    return n;
                }
                case Nothing() -> {
                    script.poll();
                    return 0;
                }
                case Eof() -> {
                    return -1;
                }
                case Failure(IOException error) -> {
                    script.poll();
                    throw error;
                }
                case Tripwire(String why) -> throw new AssertionError(
                        "read past the allowed bytes after " + delivered + " bytes: " + why);
            }
        }
    }

    /** Bytes handed out so far. */
    long delivered() {
        return delivered;
    }

    /** Calls to {@link #read}. */
    int reads() {
        return reads;
    }

    /** The bytes still waiting in the script's byte chunks, in order. */
    byte[] unread() {
        var out = new java.io.ByteArrayOutputStream();
        for (Step step : script) {
            if (step instanceof Bytes(ByteBuffer data)) {
                byte[] rest = new byte[data.remaining()];
                data.duplicate().get(rest);
                out.writeBytes(rest);
            }
        }
        return out.toByteArray();
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public void close() {
        open = false;
    }

    static byte[] concat(byte[]... parts) {
        int length = Arrays.stream(parts).mapToInt(p -> p.length).sum();
        byte[] out = new byte[length];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
