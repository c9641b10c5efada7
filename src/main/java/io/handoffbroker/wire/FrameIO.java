package io.handoffbroker.wire;

import com.google.protobuf.CodedOutputStream;
import io.handoffbroker.wire.proto.Frame;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Blocking frame I/O over streams, and the one encoder every party uses.
 *
 * <p>A frame is always encoded into one array and written with one call, so a
 * frame is never interleaved with another writer's bytes and a peer never sees
 * a header without its body because of a partial flush on our side.
 */
public final class FrameIO {

    private FrameIO() {
    }

    /** The frame as it travels: header and body in one array. */
    public static byte[] encode(Frame frame) {
        int bodyLength = frame.getSerializedSize();
        if (bodyLength > WireProtocol.MAX_FRAME_BODY) {
            throw new IllegalArgumentException("frame body of " + bodyLength + " bytes exceeds the 16 MiB limit");
        }
        byte[] out = new byte[WireProtocol.HEADER_LENGTH + bodyLength];
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN)
                .put((byte) WireProtocol.FRAMING_VERSION)
                .putInt(bodyLength);
        CodedOutputStream coded = CodedOutputStream.newInstance(out, WireProtocol.HEADER_LENGTH, bodyLength);
        try {
            frame.writeTo(coded);
            coded.checkNoSpaceLeft();
        } catch (IOException e) {
            throw new IllegalStateException("protobuf wrote a different size than it announced", e);
        }
        return out;
    }

    /** Writes one frame and flushes it. */
    public static void write(OutputStream out, Frame frame) throws IOException {
        out.write(encode(frame));
        out.flush();
    }

    /**
     * Reads exactly one frame, blocking until it is complete.
     *
     * @param limit what is read: a client's first frame, a handoff message, or any other frame
     * @throws EOFException when the stream ends before the first byte of a frame
     * @throws WireException for every framing violation, see {@link FrameDecoder}
     */
    public static Frame read(InputStream in, FrameLimit limit) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(WireProtocol.HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        // One read takes whatever of the header has arrived (usually all of it, in one system
        // call); the framing byte is judged as soon as it is there, before waiting for more.
        int first = in.read(header.array(), 0, WireProtocol.HEADER_LENGTH);
        if (first == 0) {
            throw noProgress(in);
        }
        if (first < 0) {
            throw new EOFException("stream ended before a frame began");
        }
        FrameDecoder.checkFramingByte(header);
        boolean hello = limit.isInitialHello();
        readFully(in, hello, header.array(), first, WireProtocol.HEADER_LENGTH - first, first, -1);
        int length = FrameDecoder.checkedLength(header.getInt(1), limit);
        long expected = WireProtocol.HEADER_LENGTH + (long) length;
        // Grown as the bytes arrive, as the decoder's: a peer that announces 16 MiB and stalls
        // costs what it sent.
        byte[] body = new byte[FrameDecoder.firstCapacity(length)];
        int received = 0;
        while (true) {
            readFully(in, hello, body, received, body.length - received, WireProtocol.HEADER_LENGTH + received,
                    expected);
            received = body.length;
            if (received == length) {
                return FrameDecoder.parse(body);
            }
            body = Arrays.copyOf(body, FrameDecoder.grownCapacity(received, length));
        }
    }

    // A blocking stream returns at least one byte or the end (InputStream's contract); one that
    // returns 0 would have these loops spin for ever, so it is reported instead of retried.
    private static IOException noProgress(InputStream in) {
        return new IOException("a blocking read returned no bytes (a non-blocking stream?): "
                + in.getClass().getName());
    }

    private static void readFully(InputStream in, boolean hello, byte[] into, int offset, int length, int alreadyReceived,
            long expected) throws IOException {
        int done = 0;
        while (done < length) {
            int n;
            try {
                n = in.read(into, offset + done, length - done);
            } catch (java.net.SocketTimeoutException e) {
                throw e;
            } catch (IOException e) {
                throw new IncompleteFrameException(hello, alreadyReceived + done, expected, e);
            }
            if (n < 0) {
                throw new IncompleteFrameException(hello, alreadyReceived + done, expected);
            }
            if (n == 0) {
                throw noProgress(in);
            }
            done += n;
        }
    }
}
