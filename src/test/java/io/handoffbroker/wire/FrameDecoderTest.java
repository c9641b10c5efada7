package io.handoffbroker.wire;

import static io.handoffbroker.wire.ScriptedChannel.concat;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.Hello;
import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class FrameDecoderTest {

    private static final Hello HELLO = Hello.newBuilder().setClientMinProtocol(1).setClientMaxProtocol(1)
            .setServiceName("echo").setWantedVersion("1.2.3").build();
    private static final Frame FRAME_A = Envelope.frame(FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL, 7,
            HELLO);
    private static final Frame FRAME_B = Frame.newBuilder().setEnvelopeVersion(1)
            .setKind(FrameKind.FRAME_KIND_EVENT).setPayloadProtocol(WireProtocol.PAYLOAD_HANDOFF)
            .setRequestId(43).setTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .setPayload(ByteString.copyFrom(new byte[300])).build();

    /** Calls readFrom until it yields a frame, counting the calls that had nothing yet. */
    private record Decoded(Frame frame, int emptyCalls) {
    }

    private static Decoded decode(FrameDecoder decoder, ScriptedChannel channel) throws IOException {
        int empty = 0;
        for (int i = 0; i < 100_000; i++) {
            Frame frame = decoder.readFrom(channel);
            if (frame != null) {
                return new Decoded(frame, empty);
            }
            empty++;
        }
        throw new AssertionError("no frame after 100000 calls");
    }

    @Test
    void aFrameDeliveredOneByteAtATimeWithEmptyReadsBetweenDecodes() throws IOException {
        byte[] wire = FrameIO.encode(FRAME_A);
        ScriptedChannel channel = new ScriptedChannel().trickle(wire);
        FrameDecoder decoder = FrameDecoder.forHello();

        Frame frame = null;
        int nullCalls = 0;
        while (frame == null) {
            long before = channel.delivered();
            frame = decoder.readFrom(channel);
            assertThat(channel.delivered() - before).as("bytes per call").isBetween(0L, 1L);
            if (frame == null) {
                nullCalls++;
                assertThat(channel.delivered()).as("no frame before its last byte").isLessThan(wire.length);
                assertThat(decoder.isMidFrame()).isEqualTo(channel.delivered() > 0);
            }
            assertThat(nullCalls).as("progress").isLessThan(4 * wire.length);
        }
        assertThat(frame).isEqualTo(FRAME_A);
        assertThat(channel.delivered()).isEqualTo(wire.length);
        assertThat(decoder.isMidFrame()).isFalse();
        assertThat(nullCalls).as("calls that returned null").isGreaterThanOrEqualTo(wire.length - 1);
    }

    @Test
    void aFrameSplitAtEveryPossiblePointDecodes() throws IOException {
        byte[] wire = FrameIO.encode(FRAME_B);
        for (int split = 1; split < wire.length; split++) {
            ScriptedChannel channel = new ScriptedChannel()
                    .bytes(Arrays.copyOfRange(wire, 0, split)).nothing()
                    .bytes(Arrays.copyOfRange(wire, split, wire.length));
            Decoded decoded = decode(FrameDecoder.forStream(), channel);
            assertThat(decoded.frame()).as("split at %d", split).isEqualTo(FRAME_B);
            assertThat(decoded.emptyCalls()).as("split at %d", split).isBetween(1, 2);
            assertThat(channel.delivered()).isEqualTo(wire.length);
        }
    }

    @Test
    void aNonBlockingChannelWithNothingReadyYieldsNullAndReadsNothing() throws IOException {
        ScriptedChannel channel = new ScriptedChannel().nothing().nothing();
        FrameDecoder decoder = FrameDecoder.forHello();
        assertThat(decoder.readFrom(channel)).isNull();
        assertThat(decoder.readFrom(channel)).isNull();
        assertThat(decoder.isMidFrame()).isFalse();
        assertThat(channel.delivered()).isZero();
    }

    @Test
    void twoFramesBackToBackInOneChunkDecodeInSequence() throws IOException {
        ScriptedChannel channel = new ScriptedChannel()
                .bytes(concat(FrameIO.encode(FRAME_A), FrameIO.encode(FRAME_B))).eof();
        FrameDecoder decoder = FrameDecoder.forStream();

        assertThat(decoder.readFrom(channel)).isEqualTo(FRAME_A);
        assertThat(decoder.isMidFrame()).isFalse();
        assertThat(decoder.readFrom(channel)).isEqualTo(FRAME_B);
        assertThat(decoder.isMidFrame()).isFalse();
        assertThat(catchThrowable(() -> decoder.readFrom(channel))).isExactlyInstanceOf(EOFException.class);
    }

    @Test
    void theDecoderNeverReadsPastTheEndOfAFrame() throws IOException {
        byte[] frame = FrameIO.encode(FRAME_A);
        // What follows the Hello belongs to the backend the connection may be handed to.
        byte[] backendBytes = HexFormat.of().parseHex("02ffeeddccbbaa99");
        ScriptedChannel channel = new ScriptedChannel().bytes(concat(frame, backendBytes));

        assertThat(decode(FrameDecoder.forHello(), channel).frame()).isEqualTo(FRAME_A);
        assertThat(channel.delivered()).isEqualTo(frame.length);
        assertThat(channel.unread()).isEqualTo(backendBytes);
    }

    @Test
    void aZeroLengthBodyDecodesToTheDefaultFrameWithoutReadingFurther() throws IOException {
        ScriptedChannel channel = new ScriptedChannel().bytes(HexFormat.of().parseHex("0100000000" + "01"));
        Frame frame = FrameDecoder.forHello().readFrom(channel);
        assertThat(frame).isEqualTo(Frame.getDefaultInstance());
        assertThat(channel.unread()).containsExactly(1);
    }

    @Test
    void theLengthFieldIsLittleEndian() throws IOException {
        byte[] wire = FrameIO.encode(FRAME_B);
        int bodyLength = FRAME_B.getSerializedSize();
        assertThat(bodyLength).isBetween(256, 65_535);
        assertThat(Arrays.copyOfRange(wire, 1, 5))
                .containsExactly((byte) bodyLength, (byte) (bodyLength >>> 8), 0, 0);
        assertThat(decode(FrameDecoder.forHello(), new ScriptedChannel().bytes(wire)).frame()).isEqualTo(FRAME_B);
    }

    @Test
    void endOfStreamBeforeAnyByteIsAPlainEofNotAnIncompleteFrame() {
        ScriptedChannel channel = new ScriptedChannel().eof();
        FrameDecoder decoder = FrameDecoder.forHello();
        Throwable thrown = catchThrowable(() -> decoder.readFrom(channel));
        assertThat(thrown).isExactlyInstanceOf(EOFException.class).isNotInstanceOf(WireException.class);
    }

    @Test
    void endOfStreamAfterEmptyReadsButBeforeAnyByteIsStillAPlainEof() throws IOException {
        ScriptedChannel channel = new ScriptedChannel().nothing().eof();
        FrameDecoder decoder = FrameDecoder.forHello();
        assertThat(decoder.readFrom(channel)).isNull();
        assertThat(catchThrowable(() -> decoder.readFrom(channel))).isExactlyInstanceOf(EOFException.class);
    }

    @Test
    void endOfStreamMidHeaderIsAnIncompleteFrame() {
        byte[] wire = FrameIO.encode(FRAME_A);
        ScriptedChannel channel = new ScriptedChannel().bytes(Arrays.copyOf(wire, 3)).eof();
        FrameDecoder decoder = FrameDecoder.forHello();
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> decode(decoder, channel));
        assertThat(e.reason()).isEqualTo("incomplete Hello frame");
        assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
        assertThat(e.received()).isEqualTo(3);
        assertThat(e.expected()).isEqualTo(-1L);
    }

    @Test
    void endOfStreamMidBodyIsAnIncompleteFrame() {
        byte[] wire = FrameIO.encode(FRAME_A);
        ScriptedChannel channel = new ScriptedChannel().trickle(Arrays.copyOf(wire, wire.length - 1)).eof();
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> decode(FrameDecoder.forHello(), channel));
        assertThat(e.reason()).isEqualTo("incomplete Hello frame");
        assertThat(e.received()).isEqualTo(wire.length - 1);
        assertThat(e.expected()).isEqualTo(wire.length);
    }

    @Test
    void endOfStreamRightAfterTheHeaderIsAnIncompleteFrame() {
        byte[] wire = FrameIO.encode(FRAME_A);
        ScriptedChannel channel = new ScriptedChannel().bytes(Arrays.copyOf(wire, 5)).eof();
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> decode(FrameDecoder.forHello(), channel));
        assertThat(e.received()).isEqualTo(5);
        assertThat(e.expected()).isEqualTo(wire.length);
    }

    @Test
    void aBadFirstByteFailsAsSoonAsThatSingleByteArrives() throws IOException {
        ScriptedChannel channel = new ScriptedChannel().bytes(new byte[] {2})
                .tripwire("a frame with a bad framing byte must fail on that byte");
        FrameDecoder decoder = FrameDecoder.forHello();
        UnsupportedFramingException e = catchThrowableOfType(UnsupportedFramingException.class,
                () -> decoder.readFrom(channel));
        assertThat(e.framingByte()).isEqualTo(2);
        assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_VERSION_UNSUPPORTED);
        assertThat(e.reason()).isEqualTo("unsupported framing version");
        assertThat(channel.delivered()).isEqualTo(1);
    }

    @Test
    void aBadFirstByteIsReportedAsAnUnsignedValue() {
        ScriptedChannel channel = new ScriptedChannel().bytes(new byte[] {(byte) 0xFF, 0, 0, 0, 0});
        UnsupportedFramingException e = catchThrowableOfType(UnsupportedFramingException.class,
                () -> FrameDecoder.forStream().readFrom(channel));
        assertThat(e.framingByte()).isEqualTo(255);
    }

    @Test
    void aFreshDecoderAfterARejectedOversizeFrameDecodesTheNextValidBytes() throws IOException {
        byte[] valid = FrameIO.encode(FRAME_A);
        ScriptedChannel channel = new ScriptedChannel()
                .bytes(RawClient.header(WireProtocol.MAX_HELLO_BODY + 1L))
                .bytes(valid);
        FrameDecoder rejected = FrameDecoder.forHello();
        assertThat(catchThrowable(() -> rejected.readFrom(channel))).isInstanceOf(FrameTooLongException.class);
        assertThat(channel.delivered()).isEqualTo(5);

        // The spent decoder keeps failing and does not eat the next frame's bytes.
        assertThat(catchThrowable(() -> rejected.readFrom(channel))).isInstanceOf(FrameTooLongException.class);
        assertThat(channel.delivered()).isEqualTo(5);

        assertThat(decode(FrameDecoder.forHello(), channel).frame()).isEqualTo(FRAME_A);
        assertThat(channel.unread()).isEmpty();
    }

    @Test
    void aHelloOfExactlySixtyFourKiBIsAccepted() throws IOException {
        Frame frame = frameWithBodyOf(WireProtocol.MAX_HELLO_BODY);
        assertThat(decode(FrameDecoder.forHello(), new ScriptedChannel().bytes(FrameIO.encode(frame))).frame())
                .isEqualTo(frame);
    }

    @Test
    void anIoErrorMidBodySurfacesAsAnIncompleteFrameKeepingTheCause() {
        byte[] wire = FrameIO.encode(FRAME_A);
        IOException reset = new IOException("Connection reset by peer");
        ScriptedChannel channel = new ScriptedChannel().bytes(Arrays.copyOf(wire, 9)).fail(reset);
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> decode(FrameDecoder.forHello(), channel));
        assertThat(e).hasCause(reset);
        assertThat(e.getCause()).isSameAs(reset);
        assertThat(e.reason()).isEqualTo("incomplete Hello frame");
        assertThat(e.received()).isEqualTo(9);
        assertThat(e.expected()).isEqualTo(wire.length);
    }

    @Test
    void anIoErrorMidHeaderSurfacesAsAnIncompleteFrameKeepingTheCause() {
        IOException reset = new IOException("Connection reset by peer");
        ScriptedChannel channel = new ScriptedChannel().bytes(new byte[] {1, 0x17}).fail(reset);
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> decode(FrameDecoder.forHello(), channel));
        assertThat(e.getCause()).isSameAs(reset);
        assertThat(e.received()).isEqualTo(2);
        assertThat(e.expected()).isEqualTo(-1L);
    }

    @Test
    void anIoErrorBeforeAnyByteIsPassedThroughUnchanged() {
        IOException reset = new IOException("Connection reset by peer");
        ScriptedChannel channel = new ScriptedChannel().fail(reset);
        assertThat(catchThrowable(() -> FrameDecoder.forHello().readFrom(channel))).isSameAs(reset);
    }

    @Test
    void aMalformedBodyFailsOnlyOnceTheWholeBodyArrived() throws IOException {
        byte[] wire = HexFormat.of().parseHex("010200000008ff");
        ScriptedChannel channel = new ScriptedChannel().trickle(wire);
        FrameDecoder decoder = FrameDecoder.forHello();
        MalformedFrameException failure = null;
        for (int calls = 0; failure == null; calls++) {
            assertThat(calls).as("progress").isLessThan(100);
            try {
                assertThat(decoder.readFrom(channel)).isNull();
                assertThat(channel.delivered()).isLessThan(wire.length);
            } catch (MalformedFrameException e) {
                failure = e;
            }
        }
        assertThat(failure.reason()).isEqualTo("malformed broker Frame");
        assertThat(channel.delivered()).isEqualTo(wire.length);
    }

    /** A frame whose serialized body is exactly {@code bodyLength} bytes (payload only). */
    static Frame frameWithBodyOf(int bodyLength) {
        // tag (1 byte) + varint length + payload
        for (int payload = bodyLength - 6; payload <= bodyLength; payload++) {
            if (1 + com.google.protobuf.CodedOutputStream.computeUInt32SizeNoTag(payload) + payload == bodyLength) {
                Frame f = Frame.newBuilder().setPayload(ByteString.copyFrom(new byte[payload])).build();
                assertThat(f.getSerializedSize()).isEqualTo(bodyLength);
                return f;
            }
        }
        throw new AssertionError("no payload size gives a body of " + bodyLength);
    }

    // junixsocket's non-blocking channels read 0 at end of stream; readReported knows the
    // selector said "readable", so 0 bytes there is end of stream.

    @Test
    void aReportedReadThatMakesNoProgressBeforeAFrameIsEndOfStream() {
        ScriptedChannel channel = new ScriptedChannel().nothing();
        assertThat(catchThrowable(() -> FrameDecoder.forHello().readReported(channel)))
                .isExactlyInstanceOf(EOFException.class);
    }

    @Test
    void aReportedReadThatMakesNoProgressInsideAFrameIsAnIncompleteFrame() throws IOException {
        byte[] wire = FrameIO.encode(FRAME_A);
        ScriptedChannel channel = new ScriptedChannel().bytes(Arrays.copyOf(wire, 7)).nothing();
        FrameDecoder decoder = FrameDecoder.forHello();
        assertThat(decoder.readReported(channel)).as("progress, no frame yet").isNull();
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> decoder.readReported(channel));
        assertThat(e.reason()).isEqualTo("incomplete Hello frame");
        assertThat(e.received()).isEqualTo(7);
        assertThat(e.expected()).isEqualTo(wire.length);
    }

    @Test
    void aReportedReadThatCompletesAFrameReturnsIt() throws IOException {
        ScriptedChannel channel = new ScriptedChannel().bytes(FrameIO.encode(FRAME_A));
        assertThat(FrameDecoder.forHello().readReported(channel)).isEqualTo(FRAME_A);
    }

    @Test
    void anIncompleteLaterFrameIsNotCalledAHello() {
        byte[] wire = FrameIO.encode(FRAME_A);
        ScriptedChannel channel = new ScriptedChannel().bytes(Arrays.copyOf(wire, 3)).eof();
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class,
                () -> decode(FrameDecoder.forStream(), channel));
        assertThat(e.reason()).isEqualTo("incomplete frame");
    }
}
