package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.ProcessUser;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

/**
 * Each control connection costs the backend a thread, so the handoff endpoint serves a bounded
 * number at once: one over the bound is closed at once, and a freed place is taken again.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ControlConnectionLimitTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void aControlConnectionOverTheBoundIsClosedAtOnceAndAFreedPlaceIsServedAgain() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        // No handler slot is ever free: every offer is answered with a refusal, which shows it was served.
        HandoffListener listener = new HandoffListener(endpoint, () -> null, Set.of(ProcessUser.uid()), 2,
                TokenReader.OFFER_LIMIT);
        List<AFUNIXSocket> controls = new ArrayList<>();
        // junixsocket's socketpair leaves two descriptors behind: those come before the baseline.
        try (listener; AFUNIXSocketPair<AFUNIXSocketChannel> first = AFUNIXSocketPair.open();
                AFUNIXSocketPair<AFUNIXSocketChannel> second = AFUNIXSocketPair.open();
                AFUNIXSocketPair<AFUNIXSocketChannel> third = AFUNIXSocketPair.open()) {
            List<AFUNIXSocketPair<AFUNIXSocketChannel>> passed = List.of(first, second, third);
            listener.start();
            OpenDescriptors.Snapshot baseline = OpenDescriptors.snapshot();
            controls.add(RawOffers.connect(endpoint));
            controls.add(RawOffers.connect(endpoint));
            assertThat(refusal(controls.get(0), passed.get(0), 1)).isEqualTo("backend at capacity");
            assertThat(refusal(controls.get(1), passed.get(1), 2)).isEqualTo("backend at capacity");

            AFUNIXSocket overTheBound = RawOffers.connect(endpoint);
            controls.add(overTheBound);
            assertThat(overTheBound.getInputStream().read()).as("closed by the backend").isEqualTo(-1);
            assertThat(listener.controlConnections()).isEqualTo(2);

            controls.get(0).close();
            assertThat(RecordingHandoffEvents.awaitTrue(() -> listener.controlConnections() == 1, WAIT))
                    .as("the closed one's place is free").isTrue();
            AFUNIXSocket again = RawOffers.connect(endpoint);
            controls.add(again);
            assertThat(refusal(again, passed.get(2), 3)).as("a freed place is served").isEqualTo("backend at capacity");

            for (AFUNIXSocket control : controls) {
                control.close();
            }
            OpenDescriptors.awaitAtMost(baseline, WAIT);
        } finally {
            controls.forEach(Descriptors::closeQuietly);
        }
    }

    /** Offers one end of the pair; returns the refusal's detail. */
    private static String refusal(AFUNIXSocket control, AFUNIXSocketPair<AFUNIXSocketChannel> pair, int seed)
            throws Exception {
        try (AFUNIXSocketChannel ours = pair.getSocket1(); AFUNIXSocketChannel theirs = pair.getSocket2()) {
            var ack = RawOffers.ack(control, theirs.getFileDescriptor(), RawOffers.token(seed), seed);
            assertThat(ack.getAccepted()).isFalse();
            return ack.getErrorDetail();
        }
    }
}
