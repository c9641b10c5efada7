package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.handoff.DeliveryOutcome.Status;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * One delivery over a real control connection ({@link ControlConnection}) to a
 * backend end played by the test: what goes out, and every way it can end.
 */
class WireHandoffDeliveryTest {

    private static final long C = 77;

    @TempDir
    Path dir;

    private AFUNIXServerSocket listener;
    private ControlConnection control;
    private AFUNIXSocket backendEnd;
    private AFUNIXSocketPair<AFUNIXSocketChannel> client;
    private final HandoffToken token = HandoffToken.generate(new SecureRandom());
    private final List<FileDescriptor> received = new ArrayList<>();

    @BeforeEach
    void connect() throws IOException {
        Path path = dir.resolve("c.sock");
        listener = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path));
        control = ControlConnection.dial(path, Duration.ofSeconds(1));
        backendEnd = listener.accept();
        backendEnd.setAncillaryReceiveBufferSize(1024);
        backendEnd.setSoTimeout(5_000);
        client = AFUNIXSocketPair.open();
    }

    @AfterEach
    void close() throws IOException {
        for (FileDescriptor fd : received) {
            Descriptors.closeReceived(fd);
        }
        control.close();
        backendEnd.close();
        listener.close();
        client.getSocket1().close();
        client.getSocket2().close();
    }

    private record Offer(byte[] tokenBytes, Frame frame, HandoffOffer offer) {
    }

    /** The backend's side of one exchange up to the offer. */
    private Offer readOffer() throws IOException {
        InputStream in = backendEnd.getInputStream();
        byte[] bytes = new byte[16];
        int done = 0;
        while (done < 16) {
            int n = in.read(bytes, done, 16 - done);
            FileDescriptor[] fds = backendEnd.getReceivedFileDescriptors();
            if (fds != null) {
                received.addAll(List.of(fds));
            }
            assertThat(n).isPositive();
            done += n;
        }
        Frame frame = FrameIO.read(in, FrameLimit.ANY);
        return new Offer(bytes, frame, HandoffOffer.parseFrom(frame.getPayload()));
    }

    private void answer(Offer offer, boolean accepted) throws IOException {
        HandoffAck ack = HandoffAck.newBuilder().setToken(offer.offer().getToken()).setAccepted(accepted)
                .setCorrelationId(offer.offer().getCorrelationId()).build();
        FrameIO.write(backendEnd.getOutputStream(), Envelope.frame(FrameKind.FRAME_KIND_RESPONSE,
                WireProtocol.PAYLOAD_HANDOFF, offer.frame().getRequestId(), ack));
    }

    /** The backend end's part, on its own thread; {@code get} rethrows what went wrong there. */
    private CompletableFuture<Void> backend(ThrowingConsumer<Offer> then) {
        return CompletableFuture.runAsync(() -> {
            try {
                then.accept(readOffer());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, runnable -> Thread.ofPlatform().daemon(true).start(runnable));
    }

    @FunctionalInterface
    private interface ThrowingConsumer<T> {
        void accept(T value) throws IOException;
    }

    private DeliveryOutcome deliver(WireHandoffDelivery delivery, Duration deadline) throws IOException {
        return delivery.deliver(control, client.getSocket1().getFileDescriptor(), token, "echo", C,
                System.nanoTime() + deadline.toNanos());
    }

    @Test
    void theDescriptorTravelsWithTheTokenBytesAndTheOfferCarriesTokenServiceAndCorrelation() throws Exception {
        Offer[] seen = new Offer[1];
        CompletableFuture<Void> backend = backend(offer -> {
            seen[0] = offer;
            answer(offer, true);
        });
        DeliveryOutcome outcome = deliver(new WireHandoffDelivery(), Duration.ofSeconds(2));
        backend.get(5, TimeUnit.SECONDS);

        assertThat(outcome.status()).isEqualTo(Status.ACCEPTED);
        assertThat(seen[0].tokenBytes()).isEqualTo(token.toByteArray());
        assertThat(seen[0].offer().getToken()).isEqualTo(token.toByteString());
        assertThat(seen[0].offer().getServiceName()).isEqualTo("echo");
        assertThat(seen[0].offer().getCorrelationId()).isEqualTo(C);
        assertThat(seen[0].offer().getHandleValue()).isZero();
        assertThat(seen[0].frame().getRequestId()).isEqualTo(C);
        assertThat(received).hasSize(1);

        // The received descriptor is the client's connection: what we write on it reaches the other end.
        AFUNIXSocket adopted = FileDescriptorCast.using(received.getFirst()).as(AFUNIXSocket.class);
        adopted.getOutputStream().write('!');
        ByteBuffer one = ByteBuffer.allocate(1);
        client.getSocket2().configureBlocking(true);
        client.getSocket2().read(one);
        assertThat(one.get(0)).isEqualTo((byte) '!');
    }

    @Test
    void aControlConnectionCarriesExchangesInSequence() throws Exception {
        CompletableFuture<Void> backend = backend(offer -> {
            answer(offer, true);
            answer(readOffer(), false);
        });
        WireHandoffDelivery delivery = new WireHandoffDelivery();
        assertThat(deliver(delivery, Duration.ofSeconds(2)).status()).isEqualTo(Status.ACCEPTED);
        control.exchangeCompleted();
        assertThat(control.isClean()).isTrue();
        assertThat(deliver(delivery, Duration.ofSeconds(2)).status()).isEqualTo(Status.REFUSED);
        backend.get(5, TimeUnit.SECONDS);
        assertThat(received).hasSize(2);
    }

    @Test
    void silenceEndsAtTheDeadlineNotLater() throws Exception {
        CompletableFuture<Void> backend = backend(offer -> {
        });
        long started = System.nanoTime();
        DeliveryOutcome outcome = deliver(new WireHandoffDelivery(), Duration.ofMillis(200));
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        backend.get(5, TimeUnit.SECONDS);

        assertThat(outcome.status()).isEqualTo(Status.DEADLINE_PASSED);
        assertThat(outcome.descriptorReached()).isTrue();
        assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(195)).isLessThan(Duration.ofMillis(700));
    }

    @Test
    void anAckObservedAfterTheDeadlineIsLateWhateverItSays() throws Exception {
        CompletableFuture<Void> backend = backend(offer -> answer(offer, true));
        long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        // The clock the delivery judges by says the ACK came one nanosecond after the deadline.
        WireHandoffDelivery delivery = new WireHandoffDelivery(() -> deadline + 1);
        DeliveryOutcome outcome = delivery.deliver(control, client.getSocket1().getFileDescriptor(), token, "echo",
                C, deadline);
        backend.get(5, TimeUnit.SECONDS);

        assertThat(outcome.status()).isEqualTo(Status.LATE);
        assertThat(outcome.status().ackResult()).isEqualTo(AckResult.LATE);
    }

    @Test
    void aBackendThatClosesWithoutAnAckEndsTheDeliveryAtOnce() throws Exception {
        CompletableFuture<Void> backend = backend(offer -> backendEnd.close());
        long started = System.nanoTime();
        DeliveryOutcome outcome = deliver(new WireHandoffDelivery(), Duration.ofSeconds(5));
        backend.get(5, TimeUnit.SECONDS);

        assertThat(outcome.status()).isEqualTo(Status.CLOSED);
        assertThat(outcome.descriptorReached()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
    }

    @Test
    void aControlConnectionTheBackendClosedEarlierFailsBeforeAnythingWentOut() throws Exception {
        backendEnd.close();
        Thread.sleep(20);
        assertThat(control.isClean()).isFalse();
        DeliveryOutcome outcome = deliver(new WireHandoffDelivery(), Duration.ofSeconds(1));
        assertThat(outcome.status()).isEqualTo(Status.TRANSFER_FAILED);
        assertThat(outcome.descriptorReached()).isFalse();
        assertThat(outcome.status().brokerOwnsClient()).isTrue();
        // The system's reason travels with it: it is what tells permission_denied from an unavailable backend.
        assertThat(outcome.detail()).startsWith("descriptor could not be sent: ").doesNotEndWith(": null")
                .isNotEqualTo("descriptor could not be sent: ");
    }

    @Test
    void strayBytesMakeAControlConnectionUnclean() throws Exception {
        assertThat(control.isClean()).isTrue();
        backendEnd.getOutputStream().write(1);
        Thread.sleep(20);
        assertThat(control.isClean()).isFalse();
    }
}
