package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EpollTest {

    private final long[] ids = new long[8];
    private final int[] events = new int[8];

    @Test
    void reportsReadinessUnderTheRegisteredIdAndFollowsTheInterest() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (Epoll epoll = Epoll.open(); AFUNIXSocketChannel ours = pair.getSocket1();
                AFUNIXSocketChannel peer = pair.getSocket2()) {
            int descriptor = Posix.number(ours.getFileDescriptor());
            epoll.add(descriptor, Epoll.IN, 42);
            assertThat(epoll.await(0, ids, events)).as("nothing to read yet").isZero();

            peer.write(ByteBuffer.wrap(new byte[] {1}));
            assertThat(epoll.await(1_000, ids, events)).isEqualTo(1);
            assertThat(ids[0]).isEqualTo(42);
            assertThat(events[0] & Epoll.IN).isNotZero();
            assertThat(epoll.await(0, ids, events)).as("level-triggered: still unread").isEqualTo(1);

            epoll.modify(descriptor, Epoll.OUT, 43);
            assertThat(epoll.await(0, ids, events)).isEqualTo(1);
            assertThat(ids[0]).isEqualTo(43);
            assertThat(events[0]).isEqualTo(Epoll.OUT);

            epoll.modify(descriptor, 0, 44);
            assertThat(epoll.await(0, ids, events)).as("no interest").isZero();
            peer.close();
            assertThat(epoll.await(1_000, ids, events)).as("a hang-up is reported without interest").isEqualTo(1);
            assertThat(ids[0]).isEqualTo(44);
            assertThat(events[0] & Epoll.HUP).isNotZero();

            epoll.remove(descriptor);
            assertThat(epoll.await(0, ids, events)).as("removed").isZero();
            epoll.remove(descriptor); // twice is not an error
        }
    }

    @Test
    void aWakeUpFromAnotherThreadEndsAWaitAndIsNotReported() throws Exception {
        try (Epoll epoll = Epoll.open()) {
            Thread waker = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                epoll.wakeup();
            });
            long started = System.nanoTime();
            assertThat(epoll.await(-1, ids, events)).isZero();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThan(Duration.ofMillis(50));
            waker.join();
            epoll.wakeup();
            epoll.wakeup();
            assertThat(epoll.await(-1, ids, events)).as("wake-ups before a wait end it at once").isZero();
            assertThat(epoll.await(0, ids, events)).as("and are drained").isZero();
        }
    }

    @Test
    void aWaitEndsAtItsTimeout() throws Exception {
        try (Epoll epoll = Epoll.open()) {
            long started = System.nanoTime();
            assertThat(epoll.await(50, ids, events)).isZero();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(45));
        }
    }
    @Test
    void aClosedInstanceTouchesNoDescriptorNumberAgain() throws Exception {
        Epoll epoll = Epoll.open();
        epoll.close();
        epoll.close();
        epoll.wakeup(); // does nothing: its eventfd's number may be another file's by now
        epoll.remove(0); // nothing either
        assertThatThrownBy(() -> epoll.add(0, Epoll.IN, 1)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> epoll.await(0, ids, events)).isInstanceOf(IOException.class);
    }
}
