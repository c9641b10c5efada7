package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.handoffbroker.wire.proto.Frame;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A decoder holds what its peer sent, not what it announced: the body's buffer grows as its
 * bytes arrive, and past the first kilobyte only within the budget it shares with others.
 */
class FrameDecoderMemoryTest {

    private static final int BODY = 10_000;

    /** A budget of {@code limit} bytes that remembers what is taken. */
    private static final class CountingBudget implements BodyBudget {

        private int limit;
        private int taken;

        CountingBudget(int limit) {
            this.limit = limit;
        }

        void limit(int bytes) {
            limit = bytes;
        }

        @Override
        public boolean tryReserve(int bytes) {
            if (taken + bytes > limit) {
                return false;
            }
            taken += bytes;
            return true;
        }

        @Override
        public void release(int bytes) {
            taken -= bytes;
            assertThat(taken).as("never more given back than taken").isNotNegative();
        }
    }

    @Test
    void aLargeBodyArrivingInPiecesTakesFromTheBudgetOnlyAsItsBytesComeAndGivesAllBackWhenComplete()
            throws IOException {
        byte[] wire = FrameIO.encode(FrameDecoderTest.frameWithBodyOf(BODY));
        CountingBudget budget = new CountingBudget(Integer.MAX_VALUE);
        ScriptedChannel channel = new ScriptedChannel().bytes(Arrays.copyOf(wire, 2_000)).nothing()
                .bytes(Arrays.copyOfRange(wire, 2_000, wire.length));
        FrameDecoder decoder = FrameDecoder.forHello(budget);

        assertThat(decoder.readFrom(channel)).isNull();
        assertThat(budget.taken).as("1,995 body bytes arrived: a 2 KiB buffer, its first KiB free")
                .isEqualTo(1024);
        assertThat(decoder.readFrom(channel)).isEqualTo(FrameDecoderTest.frameWithBodyOf(BODY));
        assertThat(budget.taken).as("all given back").isZero();
    }

    @Test
    void aBodyThatFindsNoRoomIsLeftUnreadInTheChannelAndReadOnceThereIsRoom() throws IOException {
        byte[] wire = FrameIO.encode(FrameDecoderTest.frameWithBodyOf(BODY));
        CountingBudget budget = new CountingBudget(3 * 1024);
        ScriptedChannel channel = new ScriptedChannel().bytes(wire);
        FrameDecoder decoder = FrameDecoder.forHello(budget);

        assertThat(decoder.readReported(channel)).as("no room to grow past 4 KiB").isNull();
        assertThat(decoder.isWaitingForBudget()).isTrue();
        assertThat(channel.delivered()).as("header and the first 4 KiB of the body")
                .isEqualTo(WireProtocol.HEADER_LENGTH + 4 * 1024);
        assertThat(decoder.readReported(channel)).as("waiting is not an end of stream").isNull();
        assertThat(channel.delivered()).isEqualTo(WireProtocol.HEADER_LENGTH + 4 * 1024);

        budget.limit(Integer.MAX_VALUE);
        assertThat(decoder.readFrom(channel)).isEqualTo(FrameDecoderTest.frameWithBodyOf(BODY));
        assertThat(decoder.isWaitingForBudget()).isFalse();
        assertThat(budget.taken).isZero();
    }

    @Test
    void aBodyUnderAKilobyteNeverTouchesTheBudget() throws IOException {
        CountingBudget budget = new CountingBudget(0);
        Frame small = FrameDecoderTest.frameWithBodyOf(1024);
        assertThat(FrameDecoder.forHello(budget).readFrom(new ScriptedChannel().bytes(FrameIO.encode(small))))
                .isEqualTo(small);
    }

    @Test
    void aBodyEndedEarlyOrDiscardedGivesBackWhatItTook() throws IOException {
        byte[] wire = FrameIO.encode(FrameDecoderTest.frameWithBodyOf(BODY));
        CountingBudget budget = new CountingBudget(Integer.MAX_VALUE);

        FrameDecoder ended = FrameDecoder.forHello(budget);
        ScriptedChannel endsEarly = new ScriptedChannel().bytes(Arrays.copyOf(wire, 5_000)).eof();
        assertThatExceptionOfType(IncompleteFrameException.class).isThrownBy(() -> ended.readFrom(endsEarly));
        assertThat(budget.taken).as("after an incomplete frame").isZero();

        FrameDecoder reported = FrameDecoder.forHello(budget);
        ScriptedChannel stalls = new ScriptedChannel().bytes(Arrays.copyOf(wire, 5_000));
        assertThat(reported.readReported(stalls)).isNull();
        assertThat(budget.taken).isPositive();
        assertThatExceptionOfType(IncompleteFrameException.class).isThrownBy(() -> reported.readReported(stalls));
        assertThat(budget.taken).as("after a reported read found the end inside the frame").isZero();

        FrameDecoder discarded = FrameDecoder.forHello(budget);
        assertThat(discarded.readFrom(new ScriptedChannel().bytes(Arrays.copyOf(wire, 5_000)))).isNull();
        assertThat(budget.taken).isPositive();
        discarded.discard();
        discarded.discard();
        assertThat(budget.taken).as("after a discard, once").isZero();
    }

    @Test
    void anIncompleteFrameSaysHowLongItWasAnnouncedNotHowMuchWasBuffered() {
        byte[] wire = FrameIO.encode(FrameDecoderTest.frameWithBodyOf(BODY));
        IncompleteFrameException e = catchThrowableOfType(IncompleteFrameException.class, () -> FrameDecoder
                .forHello().readFrom(new ScriptedChannel().bytes(Arrays.copyOf(wire, 3_000)).eof()));
        assertThat(e.received()).isEqualTo(3_000);
        assertThat(e.expected()).isEqualTo(wire.length);
    }
}
