package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.DescriptorExhaustion;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.wire.proto.HandoffAck;
import java.io.FileDescriptor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

/**
 * The backend SDK when its process has run out of descriptors: it keeps answering the
 * broker, and its accept thread neither spins nor floods the log, and it recovers once
 * descriptors are free again. The whole test process runs out, on purpose, for a moment.
 */
class BackendUnderDescriptorPressureTest {

    @TempDir
    Path dir;

    @Test
    void anOfferWhoseDescriptorCannotBeTakenIsRefusedWithAnAckNotLeftUnanswered() throws Exception {
        Path handoff = dir.resolve("handoff.sock");
        try (BackendServer server = new BackendServer(dir.resolve("pipe.sock"), Optional.of(handoff), new EchoHandler(),
                4).start();
                AFUNIXSocket control = RawOffers.connect(handoff);
                AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open()) {
            // A client's connection, as a broker passes one; the handlers of those accepted see its
            // end when the test closes it.
            FileDescriptor passed = pair.getSocket2().getFileDescriptor();
            // Both answers once, so that nothing on their paths is loaded (opened) while out of descriptors.
            assertThat(RawOffers.ack(control, passed, RawOffers.token(1), 41).getAccepted()).isTrue();
            assertThat(RawOffers.ack(control, passed, RawOffers.token(1), 42).getAccepted()).as("replayed")
                    .isFalse();

            HandoffAck lastNumber;
            HandoffAck ack;
            // One number left: the received descriptor takes it, and is the backend's own as it is,
            // with no copy to make.
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(1)) {
                lastNumber = RawOffers.ack(control, passed, RawOffers.token(2), 43);
            }
            assertThat(lastNumber.getAccepted()).as("accepted on the last free number").isTrue();
            // None left: the kernel cannot install the descriptor in the backend at all.
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(0)) {
                ack = RawOffers.ack(control, passed, RawOffers.token(3), 44);
            }
            assertThat(ack.getAccepted()).isFalse();
            assertThat(ack.getCorrelationId()).isEqualTo(44);
            assertThat(ack.getErrorDetail()).startsWith("backend could not take the descriptor");
            assertThat(RawOffers.ack(control, passed, RawOffers.token(4), 45).getAccepted())
                    .as("the control connection goes on").isTrue();
        }
    }

    @Test
    void anAcceptThatFailsForWantOfDescriptorsBacksOffInsteadOfSpinningAndThenServesTheClient() throws Exception {
        Path pipe = dir.resolve("pipe.sock");
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(pipe);
        try (BackendServer server = new BackendServer(pipe, new EchoHandler(), 4).start()) {
            try (AFUNIXSocket warmUp = AFUNIXSocket.connectTo(address)) {
                assertThat(HandoffFixture.echo(warmUp, "warm-up")).isEqualTo("warm-up");
            }
            Thread acceptThread = LiveThreads.named("backend-accept");
            AFUNIXSocket client;
            long acceptCpuNanos;
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(1)) {
                client = AFUNIXSocket.connectTo(address); // the last number: the backend cannot accept it
                long before = LiveThreads.cpuNanos(acceptThread);
                Thread.sleep(1_000);
                acceptCpuNanos = LiveThreads.cpuNanos(acceptThread) - before;
            }
            try (client) {
                // Retrying at once kept a CPU busy (over half of it); backing off costs next to nothing.
                assertThat(Duration.ofNanos(acceptCpuNanos)).isLessThan(Duration.ofMillis(100));
                assertThat(HandoffFixture.echo(client, "accepted after all")).isEqualTo("accepted after all");
            }
        }
    }
}
