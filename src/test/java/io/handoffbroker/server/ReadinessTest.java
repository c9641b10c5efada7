package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.handoffbroker.testing.DescriptorExhaustion;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.Epoll;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.unix.Selection;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.AFUNIXSelectorProvider;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * The contract the event loop relies on, held by both ways of waiting: epoll and junixsocket's
 * selector. Real sockets.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ReadinessTest {

    private static final long SHORT_WAIT = Duration.ofMillis(200).toNanos();
    // Short, so that the tests of a failing move count several tries in little time.
    private static final long MOVE_RETRY = Duration.ofMillis(20).toNanos();

    @TempDir
    Path dir;

    static Readiness open(String kind) throws Exception {
        return kind.equals("epoll") ? new EpollReadiness(Epoll.open())
                : new SelectorReadiness(AFUNIXSelectorProvider.provider().openSelector());
    }

    private static List<Readiness.Key> select(Readiness readiness, long waitNanos) throws Exception {
        List<Readiness.Key> ready = new ArrayList<>();
        readiness.select(waitNanos, ready::add);
        return ready;
    }

    /** Nothing reported, and the wait really waited: a registration left behind would end it at once. */
    private static void assertWaitsForNothing(Readiness readiness) throws Exception {
        long started = System.nanoTime();
        assertThat(select(readiness, SHORT_WAIT)).isEmpty();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("the wait waited")
                .isGreaterThan(Duration.ofMillis(150));
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "selector"})
    void aChannelIsReportedReadableOrWritableOnlyForWhatItsInterestAsks(String kind) throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (Readiness readiness = open(kind); AFUNIXSocketChannel ours = pair.getSocket1();
                AFUNIXSocketChannel peer = pair.getSocket2()) {
            ours.configureBlocking(false);
            Readiness.Key key = readiness.register(ours, SelectionKey.OP_READ, "attached");
            assertThat(readiness.keyFor(ours)).isSameAs(key);
            assertThat(select(readiness, 0)).as("nothing to read").isEmpty();

            peer.write(ByteBuffer.wrap(new byte[] {1}));
            List<Readiness.Key> ready = select(readiness, SHORT_WAIT);
            assertThat(ready).containsExactly(key);
            assertThat(key.isReadable()).isTrue();
            assertThat(key.isWritable()).isFalse();
            assertThat(key.attachment()).isEqualTo("attached");

            key.interestOps(0);
            assertThat(select(readiness, 0)).as("no interest, unread byte or not").isEmpty();
            key.interestOps(SelectionKey.OP_WRITE);
            assertThat(select(readiness, SHORT_WAIT)).containsExactly(key);
            assertThat(key.isWritable()).isTrue();
            assertThat(key.isReadable()).isFalse();
            assertThat(readiness.keys()).containsExactly(key);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "selector"})
    void aHangUpIsReportedOnceAsAnInvalidKeyEvenWithoutInterest(String kind) throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (Readiness readiness = open(kind); AFUNIXSocketChannel ours = pair.getSocket1()) {
            ours.configureBlocking(false);
            Readiness.Key key = readiness.register(ours, 0, null);
            pair.getSocket2().close();

            assertThat(select(readiness, SHORT_WAIT)).containsExactly(key);
            assertThat(key.isValid()).isFalse();
            assertThat(key.isReadable()).isFalse();
            assertWaitsForNothing(readiness);
            key.interestOps(SelectionKey.OP_READ); // nothing happens on an invalid key
            assertWaitsForNothing(readiness);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "selector"})
    void aKeyCancelledOnAnotherThreadIsNotReportedAndTheChannelCanBeClosedAfter(String kind) throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (Readiness readiness = open(kind); AFUNIXSocketChannel peer = pair.getSocket2()) {
            AFUNIXSocketChannel ours = pair.getSocket1();
            ours.configureBlocking(false);
            Readiness.Key key = readiness.register(ours, SelectionKey.OP_READ, null);
            peer.write(ByteBuffer.wrap(new byte[] {1}));
            Thread other = Thread.ofPlatform().start(() -> {
                key.cancel();
                try {
                    ours.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            other.join();
            assertThat(key.isValid()).isFalse();
            assertThat(select(readiness, 0)).isEmpty();
            assertThat(readiness.keys()).isEmpty();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "selector"})
    void aParkedKeyReportsNothingAndTheChannelWaitsAgainTheWayTheLoopAsks(String kind) throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (Readiness readiness = open(kind); AFUNIXSocketChannel ours = pair.getSocket1();
                AFUNIXSocketChannel peer = pair.getSocket2()) {
            ours.configureBlocking(false);
            Readiness.Key first = readiness.register(ours, SelectionKey.OP_READ, "first wait");
            first.attach(null);
            first.park();
            peer.write(ByteBuffer.wrap(new byte[] {1}));
            assertWaitsForNothing(readiness);

            // As EventLoop.awaitReadable does: the parked key if there is one, else a new registration.
            Readiness.Key again = readiness.keyFor(ours);
            if (again == null) {
                again = readiness.register(ours, SelectionKey.OP_READ, "second wait");
            } else {
                again.attach("second wait");
                again.interestOps(SelectionKey.OP_READ);
            }
            List<Readiness.Key> ready = select(readiness, SHORT_WAIT);
            assertThat(ready).containsExactly(again);
            assertThat(ready.getFirst().attachment()).isEqualTo("second wait");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "selector"})
    void aListenerIsReportedWhenAConnectionWaitsAndAWakeUpEndsAnUnlimitedWait(String kind) throws Exception {
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("l.sock"));
        try (Readiness readiness = open(kind); AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
            listener.bind(address);
            listener.configureBlocking(false);
            Readiness.Key key = readiness.register(listener, SelectionKey.OP_ACCEPT, null);

            Thread waker = Thread.ofPlatform().start(() -> {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                readiness.wakeup();
            });
            long started = System.nanoTime();
            assertThat(select(readiness, Selection.FOREVER)).isEmpty();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThan(Duration.ofMillis(50));
            waker.join();

            try (AFUNIXSocketChannel client = AFUNIXSocketChannel.open(address)) {
                assertThat(select(readiness, SHORT_WAIT)).containsExactly(key);
                assertThat(key.isReadable()).isTrue();
                assertThat(listener.accept()).isNotNull().satisfies(accepted -> accepted.close());
            }
        }
    }
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "selector"})
    void aKeyCancelledBeforeItsDescriptorIsClosedLeavesNothingBehindWhileTheFileLivesOnElsewhere(String kind)
            throws Exception {
        // The handoff: the broker cancels, closes its copy, and the backend's copy lives on and is used.
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (Readiness readiness = open(kind); AFUNIXSocketChannel peer = pair.getSocket2()) {
            AFUNIXSocketChannel ours = pair.getSocket1();
            ours.configureBlocking(false);
            Readiness.Key key = readiness.register(ours, SelectionKey.OP_READ, null);
            int elsewhere = Posix.duplicate(Posix.number(ours.getFileDescriptor()), 3);
            try {
                key.cancel();
                Descriptors.closeWithoutShutdown(ours);
                peer.write(ByteBuffer.wrap(new byte[] {1}));
                assertWaitsForNothing(readiness);
            } finally {
                Posix.close(elsewhere);
            }
        }
    }

    @Test
    void aRegistrationLeftBehindByACloseBeforeCancelIsFoundAndTheOtherKeysMoveToANewInstance() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        AFUNIXSocketPair<AFUNIXSocketChannel> live = AFUNIXSocketPair.open();
        AFUNIXSocketPair<AFUNIXSocketChannel> stale = AFUNIXSocketPair.open();
        try (Readiness readiness = open("epoll"); AFUNIXSocketChannel peer = pair.getSocket2();
                AFUNIXSocketChannel liveOurs = live.getSocket1(); AFUNIXSocketChannel livePeer = live.getSocket2();
                AFUNIXSocketChannel stalePeer = stale.getSocket2()) {
            Readiness.Key liveKey = watch(readiness, liveOurs, "live");
            // The same bug on a connection whose file had no other copy: nothing is left registered,
            // but its key is, and the move must pass over it without touching its number.
            Readiness.Key staleKey = watch(readiness, stale.getSocket1(), "stale");
            Descriptors.closeWithoutShutdown(stale.getSocket1());
            int elsewhere = leaveARegistrationBehind(readiness, pair.getSocket1(), peer);
            try {
                List<Readiness.Key> reported = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    reported.addAll(select(readiness, SHORT_WAIT));
                }
                assertThat(reported).as("only the dropped key, once, so that whoever waited on it learns it")
                        .containsExactly(staleKey);
                assertThat(staleKey.isValid()).as("the closed one was dropped").isFalse();
                assertWaitsForNothing(readiness);
                poke(livePeer);
                assertThat(select(readiness, SHORT_WAIT)).as("the other keys moved along").containsExactly(liveKey);
                assertThat(readiness.keys()).containsExactly(liveKey);
            } finally {
                Posix.close(elsewhere);
            }
        }
    }

    @Test
    void aMoveThatFindsNoDescriptorForANewInstanceKeepsEveryKeyAndIsTriedAgainWhenThereIsOne() throws Exception {
        withARegistrationLeftBehind((readiness, liveKey, liveOurs, livePeer) -> {
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(0)) {
                selectUntil(readiness, () -> readiness.failedMovesInARow() >= 1);
                poke(livePeer);
                assertThat(select(readiness, SHORT_WAIT)).as("the old instance still serves")
                        .containsExactly(liveKey);
                liveOurs.read(ByteBuffer.allocate(1));
            }
            selectUntilMoved(readiness);
            poke(livePeer);
            assertThat(select(readiness, SHORT_WAIT)).as("the live key moved along").containsExactly(liveKey);
            assertThat(liveKey.isValid()).isTrue();
        });
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void aMoveThatKeepsFailingIsLoggedOnceThenAtTheFirstSecondAndFourthFailureAndWhenItSucceeds(
            CapturedOutput output) throws Exception {
        withARegistrationLeftBehind((readiness, liveKey, liveOurs, livePeer) -> {
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(0)) {
                selectUntil(readiness, () -> readiness.failedMovesInARow() == 4);
            }
            selectUntilMoved(readiness);
        });
        String log = output.getOut();
        assertThat(Pattern.compile("moving \\d+ live keys").matcher(log).results().count())
                .as("what is wrong, said once: %s", log).isEqualTo(1);
        assertThat(Pattern.compile("failed try (\\d+) in a row").matcher(log).results()
                .map(m -> Integer.parseInt(m.group(1))).toList()).as("the 1st, 2nd, 4th... failure")
                .containsExactly(1, 2, 4);
        assertThat(log).contains("moved the live keys to a new epoll instance after 4 failed tries");
    }

    /** A move test's body, given an epoll readiness with one live key watched and a registration no key owns. */
    private interface MoveScenario {
        void run(EpollReadiness readiness, Readiness.Key liveKey, AFUNIXSocketChannel liveOurs,
                AFUNIXSocketChannel livePeer) throws Exception;
    }

    /**
     * Runs {@code scenario} on a new epoll readiness watching a live connection, with a
     * registration left behind that no key owns (so the readiness will try to move), and with
     * what a wait needs loaded; closes all of it after.
     */
    private static void withARegistrationLeftBehind(MoveScenario scenario) throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        AFUNIXSocketPair<AFUNIXSocketChannel> live = AFUNIXSocketPair.open();
        try (EpollReadiness readiness = new EpollReadiness(Epoll.open(), MOVE_RETRY);
                AFUNIXSocketChannel peer = pair.getSocket2();
                AFUNIXSocketChannel liveOurs = live.getSocket1(); AFUNIXSocketChannel livePeer = live.getSocket2()) {
            Readiness.Key liveKey = watch(readiness, liveOurs, "live");
            int elsewhere = leaveARegistrationBehind(readiness, pair.getSocket1(), peer);
            try {
                loadWhatAWaitNeeds(readiness);
                scenario.run(readiness, liveKey, liveOurs, livePeer);
            } finally {
                Posix.close(elsewhere);
            }
        }
    }

    /**
     * Loads what a wait needs while there are descriptors: with none free, no class can be read
     * from the class path, and a failed load is never tried again.
     */
    private static void loadWhatAWaitNeeds(EpollReadiness readiness) throws Exception {
        select(readiness, 0);
        readiness.failedMovesInARow();
    }

    /**
     * Waits until {@code done}, for at most 10 s; the orphan left behind ends every wait at once,
     * and nothing is reported. Bounded here: the class time-out only interrupts, and this loop,
     * run while the test holds every descriptor, would not notice.
     */
    private static void selectUntil(Readiness readiness, BooleanSupplier done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the move's tries did not come to what was awaited within 10 s");
            }
            assertThat(select(readiness, SHORT_WAIT)).as("no move, and nothing lost").isEmpty();
        }
    }

    /** Waits until a move has worked, then takes the wake-up it leaves; the next wait waits. */
    private static void selectUntilMoved(EpollReadiness readiness) throws Exception {
        selectUntil(readiness, () -> readiness.failedMovesInARow() == 0);
        assertThat(select(readiness, 0)).isEmpty();
        assertWaitsForNothing(readiness);
    }

    /** Registers {@code ours} (made non-blocking) for reading. */
    private static Readiness.Key watch(Readiness readiness, AFUNIXSocketChannel ours, @Nullable Object attachment)
            throws Exception {
        ours.configureBlocking(false);
        return readiness.register(ours, SelectionKey.OP_READ, attachment);
    }

    /** One byte from {@code peer}: its other end becomes readable. */
    private static void poke(AFUNIXSocketChannel peer) throws Exception {
        peer.write(ByteBuffer.wrap(new byte[] {1}));
    }

    /**
     * The bug the epoll readiness must survive: {@code ours} is registered, closed before its key
     * is cancelled while its file lives on in a duplicate, and made readable by its peer.
     *
     * @return the duplicate's number, for the caller to close
     */
    private static int leaveARegistrationBehind(Readiness readiness, AFUNIXSocketChannel ours,
            AFUNIXSocketChannel peer) throws Exception {
        Readiness.Key key = watch(readiness, ours, null);
        int elsewhere = Posix.duplicate(Posix.number(ours.getFileDescriptor()), 3);
        Descriptors.closeWithoutShutdown(ours);
        key.cancel();
        poke(peer);
        return elsewhere;
    }

    @Test
    void theBrokerWaitsOnEpollOnLinuxUnlessToldNotTo() throws Exception {
        // A silent fall-back to the selector would pass every other test and cost milliseconds per
        // Hello with many idle connections; this one says so.
        assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux"));
        assumeFalse(Boolean.getBoolean(Readiness.NO_EPOLL_PROPERTY), "the selector was asked for");
        try (Readiness readiness = Readiness.open()) {
            assertThat(readiness.kind()).isEqualTo("epoll");
        }
    }
}
