package io.handoffbroker.wire;

import com.google.protobuf.InvalidProtocolBufferException;
import io.handoffbroker.wire.proto.Frame;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import org.jspecify.annotations.Nullable;

/**
 * Reassembles one frame at a time from a non-blocking channel, however the bytes
 * arrive.
 *
 * <pre>
 *  +---------+---------------------+-----------------------------+
 *  | 0x01    | body_length (u32 LE)| body: protobuf Frame        |
 *  | 1 byte  | 4 bytes             | body_length bytes           |
 *  +---------+---------------------+-----------------------------+
 *    checked    checked against the   allocated only after the
 *    at once    limit, before any     length passed the check, and
 *               allocation            as its bytes arrive
 * </pre>
 *
 * <p>The decoder reads the header and then exactly the announced body, never a
 * byte more: on a client connection whatever follows the Hello belongs to the
 * backend the connection may be handed to, so it must stay in the socket.
 *
 * <p>Memory: the body's buffer starts at {@value #FREE_BODY_BYTES} bytes (or the body's
 * length, if smaller) and doubles as the bytes arrive, so a peer that announces a large body
 * and stalls costs what it sent, not what it announced. Growth past those first bytes is taken
 * from a {@link BodyBudget} shared with other decoders; when the budget has no room the decoder
 * reads no further and says so ({@link #isWaitingForBudget()}), the rest of the frame staying in
 * the socket, and its reader tries again once memory was given back. What a decoder took is
 * given back when its frame is complete, when it fails, and on {@link #discard()}.
 *
 * <p>Failure modes: a wrong first byte fails as soon as that byte arrives
 * ({@link UnsupportedFramingException}); an oversized length fails from the
 * header alone ({@link FrameTooLongException}); end of stream inside a frame is
 * {@link IncompleteFrameException}; end of stream before the first byte is a
 * plain {@link EOFException}; an undecodable body is {@link MalformedFrameException}.
 * After a failure the decoder is spent: the connection must be closed. After a
 * success it is ready for the next frame. Not thread-safe: one decoder per
 * connection, used by one thread at a time.
 */
public final class FrameDecoder {

    /** Body bytes a decoder may always buffer, outside any budget: a usual Hello fits in them. */
    public static final int FREE_BODY_BYTES = 1024;

    private final FrameLimit limit;
    private final BodyBudget budget;
    private final ByteBuffer header = ByteBuffer.allocate(WireProtocol.HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    private @Nullable ByteBuffer body;
    private int bodyLength;
    private int reserved; // taken from the budget for the current body
    private boolean waitingForBudget;
    private long bytesRead;

    private FrameDecoder(FrameLimit limit, BodyBudget budget) {
        this.limit = limit;
        this.budget = budget;
    }

    /** A decoder for the first frame of a client connection, capped at 64 KiB, without a budget. */
    public static FrameDecoder forHello() {
        return forHello(BodyBudget.UNLIMITED);
    }

    /** A decoder for the first frame of a client connection, capped at 64 KiB, growing within {@code budget}. */
    public static FrameDecoder forHello(BodyBudget budget) {
        return new FrameDecoder(FrameLimit.HELLO, budget);
    }

    /** A decoder for any later frame, capped at 16 MiB. */
    public static FrameDecoder forStream() {
        return new FrameDecoder(FrameLimit.ANY, BodyBudget.UNLIMITED);
    }

    /** A decoder for the ACKs on a control connection, capped at {@link WireProtocol#MAX_HANDOFF_BODY}. */
    public static FrameDecoder forHandoff() {
        return new FrameDecoder(FrameLimit.HANDOFF, BodyBudget.UNLIMITED);
    }

    /**
     * Reads whatever the channel has ready, up to the end of the current frame.
     *
     * @return the frame once its last byte arrived, or {@code null} when the
     *     channel has no more bytes for now, or the budget no room for them
     */
    public @Nullable Frame readFrom(ReadableByteChannel channel) throws IOException {
        try {
            return read(channel);
        } catch (IOException | RuntimeException e) {
            giveBackReserved(); // spent: the connection is closed
            throw e;
        }
    }

    private @Nullable Frame read(ReadableByteChannel channel) throws IOException {
        ByteBuffer bodyBuffer = body;
        if (bodyBuffer == null) {
            if (readOrEof(channel, header) == 0 && header.position() == 0) {
                return null;
            }
            checkFramingByte(header);
            if (header.hasRemaining()) {
                return null;
            }
            bodyLength = checkedLength(header.getInt(1), limit);
            bodyBuffer = ByteBuffer.allocate(firstCapacity(bodyLength));
            body = bodyBuffer;
        }
        while (bodyBuffer.position() < bodyLength) {
            if (!bodyBuffer.hasRemaining()) {
                ByteBuffer grown = grow(bodyBuffer);
                if (grown == null) {
                    waitingForBudget = true;
                    return null;
                }
                waitingForBudget = false;
                bodyBuffer = grown;
                body = grown;
            }
            if (readOrEof(channel, bodyBuffer) == 0) {
                return null;
            }
        }
        byte[] bytes = bodyBuffer.array(); // exactly bodyLength long: growth stops at the length
        header.clear();
        body = null;
        giveBackReserved();
        return parse(bytes);
    }

    /** The buffer doubled (at most to the body's length), or null when the budget has no room. */
    private @Nullable ByteBuffer grow(ByteBuffer full) {
        int capacity = grownCapacity(full.capacity(), bodyLength);
        int more = Math.max(0, capacity - FREE_BODY_BYTES) - Math.max(0, full.capacity() - FREE_BODY_BYTES);
        if (more > 0 && !budget.tryReserve(more)) {
            return null;
        }
        reserved += more;
        return ByteBuffer.allocate(capacity).put(full.flip());
    }

    private void giveBackReserved() {
        waitingForBudget = false;
        if (reserved > 0) {
            budget.release(reserved);
            reserved = 0;
        }
    }

    /**
     * True when the last read stopped because the budget had no room to grow the body: the
     * channel may be readable, but nothing more is read until memory is given back.
     */
    public boolean isWaitingForBudget() {
        return waitingForBudget;
    }

    /**
     * Gives back what the current frame took from the budget, if anything: for a connection
     * closed mid-frame. Idempotent, and a no-op once a frame completed or failed.
     */
    public void discard() {
        giveBackReserved();
    }

    /**
     * {@link #readFrom} for a channel its selector has just reported readable. A read
     * that then makes no progress is end of stream: junixsocket's non-blocking
     * channels report end of stream as a read of 0 bytes, never as -1.
     *
     * @throws EOFException at end of stream before a frame began
     * @throws IncompleteFrameException at end of stream inside a frame
     */
    public @Nullable Frame readReported(ReadableByteChannel channel) throws IOException {
        long before = bytesRead;
        Frame frame = readFrom(channel);
        if (frame == null && bytesRead == before && !waitingForBudget) {
            giveBackReserved(); // spent, as after any failure
            if (isMidFrame()) {
                throw new IncompleteFrameException(isHello(), received(), expected());
            }
            throw new EOFException("stream ended before a frame began");
        }
        return frame;
    }

    /** True when part of a frame has been read and the rest is outstanding. */
    public boolean isMidFrame() {
        return header.position() > 0;
    }

    private int readOrEof(ReadableByteChannel channel, ByteBuffer into) throws IOException {
        int read;
        try {
            read = channel.read(into);
        } catch (IOException e) {
            if (isMidFrame()) {
                throw new IncompleteFrameException(isHello(), received(), expected(), e);
            }
            throw e;
        }
        if (read < 0) {
            if (isMidFrame()) {
                throw new IncompleteFrameException(isHello(), received(), expected());
            }
            throw new EOFException("stream ended before a frame began");
        }
        bytesRead += read;
        return read;
    }

    private boolean isHello() {
        return limit.isInitialHello();
    }

    private int received() {
        ByteBuffer b = body;
        return header.position() + (b == null ? 0 : b.position());
    }

    private long expected() {
        return body == null ? -1 : WireProtocol.HEADER_LENGTH + (long) bodyLength;
    }

    static void checkFramingByte(ByteBuffer header) throws UnsupportedFramingException {
        int first = header.get(0) & 0xFF;
        if (first != WireProtocol.FRAMING_VERSION) {
            throw new UnsupportedFramingException(first);
        }
    }

    /** A body's first buffer: what a usual frame needs, never what a peer merely announced. */
    static int firstCapacity(int bodyLength) {
        return Math.min(bodyLength, FREE_BODY_BYTES);
    }

    /** A full body buffer's next size: doubled, never past the body's length. */
    static int grownCapacity(int capacity, int bodyLength) {
        return (int) Math.min(bodyLength, 2L * capacity);
    }

    static int checkedLength(int lengthField, FrameLimit limit) throws FrameTooLongException {
        long length = Integer.toUnsignedLong(lengthField);
        if (length > limit.maxBody()) {
            throw new FrameTooLongException(length, limit);
        }
        return (int) length;
    }

    static Frame parse(byte[] body) throws MalformedFrameException {
        try {
            return Frame.parseFrom(body);
        } catch (InvalidProtocolBufferException e) {
            throw MalformedFrameException.frame(e);
        }
    }
}
