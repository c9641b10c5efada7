package io.handoffbroker.wire;

import static io.handoffbroker.wire.ScriptedChannel.concat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.google.protobuf.ByteString;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.PayloadEncoding;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameIOTest {

    private static final Frame FRAME = Frame.newBuilder().setEnvelopeVersion(1)
            .setKind(FrameKind.FRAME_KIND_RESPONSE).setPayloadProtocol(WireProtocol.PAYLOAD_HANDOFF)
            .setRequestId(-1L).setDeadlineUnixMs(1_700_000_000_000L).setTracestate("vendor=x")
            .setPayload(ByteString.copyFromUtf8("x".repeat(300))).build();

    @Test
    void encodeWritesTheFramingByteTheLittleEndianLengthAndTheBody() {
        byte[] body = FRAME.toByteArray();
        assertThat(body.length).isBetween(256, 65_535);
        byte[] wire = FrameIO.encode(FRAME);
        assertThat(wire).hasSize(5 + body.length);
        assertThat(wire[0]).isEqualTo((byte) 0x01);
        assertThat(Arrays.copyOfRange(wire, 1, 5))
                .containsExactly((byte) (body.length & 0xFF), (byte) (body.length >>> 8), 0, 0);
        assertThat(Arrays.copyOfRange(wire, 5, wire.length)).isEqualTo(body);
    }

    @Test
    void encodeOfTheDefaultFrameIsTheBareHeader() {
        assertThat(HexFormat.of().formatHex(FrameIO.encode(Frame.getDefaultInstance()))).isEqualTo("0100000000");
    }

    @Test
    void encodeAcceptsABodyOfExactlySixteenMiB() throws IOException {
        Frame frame = FrameDecoderTest.frameWithBodyOf(WireProtocol.MAX_FRAME_BODY);
        byte[] wire = FrameIO.encode(frame);
        assertThat(wire).hasSize(5 + WireProtocol.MAX_FRAME_BODY);
        assertThat(Arrays.copyOfRange(wire, 0, 5)).containsExactly(1, 0, 0, 0, 1);
        assertThat(FrameIO.read(new ByteArrayInputStream(wire), FrameLimit.ANY)).isEqualTo(frame);
    }

    @Test
    void encodeRejectsABodyOverSixteenMiB() {
        Frame frame = FrameDecoderTest.frameWithBodyOf(WireProtocol.MAX_FRAME_BODY + 1);
        assertThatThrownBy(() -> FrameIO.encode(frame)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("16 MiB");
        assertThatThrownBy(() -> FrameIO.write(OutputStream.nullOutputStream(), frame))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void writeSendsHeaderAndBodyInOneWriteAndFlushes() throws IOException {
        RecordingStream out = new RecordingStream();
        FrameIO.write(out, FRAME);
        assertThat(out.events).containsExactly("write " + (5 + FRAME.getSerializedSize()), "flush");
        assertThat(out.bytes).isEqualTo(FrameIO.encode(FRAME));
    }

    @Test
    void readOverAStreamThatDeliversSmallChunksReassemblesEachFrame() throws IOException {
        Frame second = Frame.newBuilder().setEnvelopeVersion(1).setPayloadEncoding(PayloadEncoding.PAYLOAD_ENCODING_LZ4)
                .setTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").build();
        byte[] first = FrameIO.encode(FRAME);
        ChunkedStream in = new ChunkedStream(concat(first, FrameIO.encode(second)), 3);

        assertThat(FrameIO.read(in, FrameLimit.ANY)).isEqualTo(FRAME);
        assertThat(in.position).as("never reads past the end of a frame").isEqualTo(first.length);
        assertThat(FrameIO.read(in, FrameLimit.ANY)).isEqualTo(second);
        assertThat(catchThrowable(() -> FrameIO.read(in, FrameLimit.ANY)))
                .isExactlyInstanceOf(EOFException.class);
    }

    @Test
    void readOneByteAtATimeWorks() throws IOException {
        ChunkedStream in = new ChunkedStream(FrameIO.encode(FRAME), 1);
        assertThat(FrameIO.read(in, FrameLimit.HELLO)).isEqualTo(FRAME);
        assertThat(in.calls).isGreaterThan(FrameIO.encode(FRAME).length - 1);
    }

    @Test
    void endOfStreamBeforeTheFirstByteIsAPlainEof() {
        Throwable thrown = catchThrowable(() -> FrameIO.read(InputStream.nullInputStream(), FrameLimit.HELLO));
        assertThat(thrown).isExactlyInstanceOf(EOFException.class).isNotInstanceOf(WireException.class);
    }

    @Test
    void endOfStreamMidHeaderIsAnIncompleteFrame() {
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> FrameIO.read(new ByteArrayInputStream(new byte[] {1, 9}), FrameLimit.HELLO));
        assertThat(e.reason()).isEqualTo("incomplete Hello frame");
        assertThat(e.received()).isEqualTo(2);
        assertThat(e.expected()).isEqualTo(-1L);
    }

    @Test
    void endOfStreamMidBodyIsAnIncompleteFrame() {
        byte[] wire = FrameIO.encode(FRAME);
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> FrameIO.read(new ChunkedStream(Arrays.copyOf(wire, 100), 7), FrameLimit.ANY));
        assertThat(e.received()).isEqualTo(100);
        assertThat(e.expected()).isEqualTo(wire.length);
    }

    @Test
    void anIoErrorMidFrameIsAnIncompleteFrameKeepingTheCause() {
        byte[] wire = FrameIO.encode(FRAME);
        IOException reset = new IOException("Connection reset by peer");
        ChunkedStream in = new ChunkedStream(Arrays.copyOf(wire, 20), 20).thenFail(reset);
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> FrameIO.read(in, FrameLimit.ANY));
        assertThat(e.getCause()).isSameAs(reset);
        assertThat(e.received()).isEqualTo(20);
        assertThat(e.expected()).isEqualTo(wire.length);
    }

    @Test
    void aStreamThatReturnsNoBytesIsReportedNotRetriedForEver() {
        // Before its first byte and in the middle of a frame: either would spin a reader thread.
        byte[] wire = FrameIO.encode(FRAME);
        for (int after : new int[] {0, 3, 20}) {
            InputStream stalling = new ChunkedStream(Arrays.copyOf(wire, after), 20) {
                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = super.read(b, off, len);
                    return n < 0 ? 0 : n;
                }
            };
            Throwable thrown = assertTimeoutPreemptively(Duration.ofSeconds(10),
                    () -> catchThrowable(() -> FrameIO.read(stalling, FrameLimit.ANY)));
            assertThat(thrown).as("after %d bytes", after).isExactlyInstanceOf(IOException.class)
                    .hasMessageContaining("returned no bytes");
        }
    }

    @Test
    void aSocketTimeoutMidFrameIsPassedThroughSoTheCallerCanTellADeadlineFromABrokenPeer() {
        byte[] wire = FrameIO.encode(FRAME);
        SocketTimeoutException timeout = new SocketTimeoutException("Read timed out");
        ChunkedStream in = new ChunkedStream(Arrays.copyOf(wire, 20), 20).thenFail(timeout);
        assertThat(catchThrowable(() -> FrameIO.read(in, FrameLimit.ANY))).isSameAs(timeout);
    }

    @Test
    void aBadFramingByteIsRejectedAsSoonAsItArrivesWithoutWaitingForTheRestOfTheHeader() {
        // The peer has sent only the first byte so far: one read, and the verdict.
        ChunkedStream in = new ChunkedStream(HexFormat.of().parseHex("0017000000"), 1);
        UnsupportedFramingException e = catchThrowableOfType(UnsupportedFramingException.class,
                () -> FrameIO.read(in, FrameLimit.HELLO));
        assertThat(e.framingByte()).isZero();
        assertThat(in.position).isEqualTo(1);
    }

    @Test
    void aWholeHeaderThatHasArrivedIsTakenInOneRead() throws IOException {
        byte[] wire = FrameIO.encode(FRAME);
        CountingStream in = new CountingStream(wire);
        assertThat(FrameIO.read(in, FrameLimit.HELLO)).isEqualTo(FRAME);
        assertThat(in.reads).as("header, then body").isEqualTo(2);
    }

    @Test
    void aBodyAnnouncedLargeIsBufferedAsItArrivesNotAsAnnounced() {
        // 16 MiB announced, 3,000 bytes sent, then the end: the reader never asked for (so never
        // set aside) more than twice what had come.
        byte[] wire = Arrays.copyOf(RawClient.header(WireProtocol.MAX_FRAME_BODY), WireProtocol.HEADER_LENGTH + 3_000);
        CountingStream in = new CountingStream(wire);
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> FrameIO.read(in, FrameLimit.ANY));
        assertThat(e.received()).isEqualTo(WireProtocol.HEADER_LENGTH + 3_000);
        assertThat(e.expected()).isEqualTo(WireProtocol.HEADER_LENGTH + (long) WireProtocol.MAX_FRAME_BODY);
        assertThat(in.largestAsk).isLessThanOrEqualTo(2 * 3_000);
    }

    /** Hands out as much as asked per read, counting the calls and remembering the most asked. */
    private static final class CountingStream extends ByteArrayInputStream {
        int reads;
        int largestAsk;

        CountingStream(byte[] data) {
            super(data);
        }

        @Override
        public synchronized int read(byte[] b, int off, int len) {
            reads++;
            largestAsk = Math.max(largestAsk, len);
            return super.read(b, off, len);
        }

        @Override
        public synchronized int read() {
            reads++;
            return super.read();
        }
    }

    @Test
    void theLimitIsTheCallersHelloLimitOrStreamLimit() throws IOException {
        Frame atHelloLimit = FrameDecoderTest.frameWithBodyOf(WireProtocol.MAX_HELLO_BODY);
        Frame overHelloLimit = FrameDecoderTest.frameWithBodyOf(WireProtocol.MAX_HELLO_BODY + 1);
        assertThat(FrameIO.read(new ByteArrayInputStream(FrameIO.encode(atHelloLimit)), FrameLimit.HELLO))
                .isEqualTo(atHelloLimit);
        assertThat(catchThrowable(() -> FrameIO.read(new ByteArrayInputStream(FrameIO.encode(overHelloLimit)),
                FrameLimit.HELLO))).isInstanceOf(FrameTooLongException.class);
        assertThat(FrameIO.read(new ByteArrayInputStream(FrameIO.encode(overHelloLimit)), FrameLimit.ANY))
                .isEqualTo(overHelloLimit);
    }

    /** Hands out at most {@code chunk} bytes per read call, then EOF or a scripted failure. */
    private static class ChunkedStream extends InputStream {
        private final byte[] data;
        private final int chunk;
        private IOException failure;
        int position;
        int calls;

        ChunkedStream(byte[] data, int chunk) {
            this.data = data;
            this.chunk = chunk;
        }

        ChunkedStream thenFail(IOException e) {
            this.failure = e;
            return this;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            calls++;
            if (len == 0) {
                return 0;
            }
            if (position == data.length) {
                if (failure != null) {
                    throw failure;
                }
                return -1;
            }
            int n = Math.min(Math.min(len, chunk), data.length - position);
            System.arraycopy(data, position, b, off, n);
            position += n;
            return n;
        }
    }

    private static final class RecordingStream extends OutputStream {
        final List<String> events = new ArrayList<>();
        byte[] bytes = new byte[0];

        @Override
        public void write(int b) {
            events.add("write 1");
            bytes = concat(bytes, new byte[] {(byte) b});
        }

        @Override
        public void write(byte[] b, int off, int len) {
            events.add("write " + len);
            bytes = concat(bytes, Arrays.copyOfRange(b, off, off + len));
        }

        @Override
        public void flush() {
            events.add("flush");
        }
    }
}
