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
 *    at once    limit, before any     length passed the check
 *               allocation
 * </pre>
 *
 * <p>The decoder reads the header and then exactly the announced body, never a
 * byte more: on a client connection whatever follows the Hello belongs to the
 * backend the connection may be handed to, so it must stay in the socket.
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

    private final int maxBodyLength;
    private final ByteBuffer header = ByteBuffer.allocate(WireProtocol.HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    private @Nullable ByteBuffer body;
    private long bytesRead;

    private FrameDecoder(int maxBodyLength) {
        this.maxBodyLength = maxBodyLength;
    }

    /** A decoder for the first frame of a client connection, capped at 64 KiB. */
    public static FrameDecoder forHello() {
        return new FrameDecoder(WireProtocol.MAX_HELLO_BODY);
    }

    /** A decoder for any later frame, capped at 16 MiB. */
    public static FrameDecoder forStream() {
        return new FrameDecoder(WireProtocol.MAX_FRAME_BODY);
    }

    /**
     * Reads whatever the channel has ready, up to the end of the current frame.
     *
     * @return the frame once its last byte arrived, or {@code null} when the
     *     channel has no more bytes for now
     */
    public @Nullable Frame readFrom(ReadableByteChannel channel) throws IOException {
        ByteBuffer bodyBuffer = body;
        if (bodyBuffer == null) {
            if (readOrEof(channel, header) == 0 && header.position() == 0) {
                return null;
            }
            checkFramingByte(header);
            if (header.hasRemaining()) {
                return null;
            }
            bodyBuffer = allocateBody(header.getInt(1), maxBodyLength);
            body = bodyBuffer;
        }
        while (bodyBuffer.hasRemaining()) {
            if (readOrEof(channel, bodyBuffer) == 0) {
                return null;
            }
        }
        byte[] bytes = bodyBuffer.array();
        header.clear();
        body = null;
        return parse(bytes);
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
        if (frame == null && bytesRead == before) {
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
        return maxBodyLength == WireProtocol.MAX_HELLO_BODY;
    }

    private int received() {
        ByteBuffer b = body;
        return header.position() + (b == null ? 0 : b.position());
    }

    private long expected() {
        return body == null ? -1 : WireProtocol.HEADER_LENGTH + (long) body.capacity();
    }

    static void checkFramingByte(ByteBuffer header) throws UnsupportedFramingException {
        int first = header.get(0) & 0xFF;
        if (first != WireProtocol.FRAMING_VERSION) {
            throw new UnsupportedFramingException(first);
        }
    }

    static ByteBuffer allocateBody(int lengthField, int maxBodyLength) throws FrameTooLongException {
        long length = Integer.toUnsignedLong(lengthField);
        if (length > maxBodyLength) {
            throw new FrameTooLongException(length, maxBodyLength);
        }
        return ByteBuffer.allocate((int) length);
    }

    static Frame parse(byte[] body) throws MalformedFrameException {
        try {
            return Frame.parseFrom(body);
        } catch (InvalidProtocolBufferException e) {
            throw MalformedFrameException.frame(e);
        }
    }
}
