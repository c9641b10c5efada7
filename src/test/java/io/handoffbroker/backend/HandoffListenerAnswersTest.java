package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.backend.RawOffers.Backend;
import io.handoffbroker.backend.RawOffers.Pair;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.ProcessUser;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketPair;

/**
 * What the backend SDK answers to offers a broker writes by hand, and how a {@link StreamHandler}
 * sees a handed-off connection: real sockets, real descriptor passing.
 */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class HandoffListenerAnswersTest {

    @TempDir
    Path dir;

    @Test
    void theAckEchoesTheOfferFramesRequestIdAndTraceContext() throws Exception {
        try (Backend backend = Backend.start(dir, (in, out) -> { }); Pair client = Pair.open()) {
            Frame offer = RawOffers.offerFrame(RawOffers.token(1), 41).toBuilder()
                    .setTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                    .setTracestate("vendor=1").build();
            Frame ack = RawOffers.offer(backend.control(), client.passed(), RawOffers.token(1), offer);
            assertThat(ack.getKind()).isEqualTo(FrameKind.FRAME_KIND_RESPONSE);
            assertThat(ack.getRequestId()).isEqualTo(41);
            assertThat(ack.getTraceparent()).isEqualTo(offer.getTraceparent());
            assertThat(ack.getTracestate()).isEqualTo("vendor=1");
            assertThat(HandoffAck.parseFrom(ack.getPayload()).getAccepted()).isTrue();
        }
    }

    @Test
    void aReadableOfferInTheWrongEnvelopeIsRefusedWithAnAckAndTheConnectionGoesOn() throws Exception {
        try (Backend backend = Backend.start(dir, (in, out) -> { }); Pair first = Pair.open();
                Pair second = Pair.open()) {
            Frame wrongKind = RawOffers.offerFrame(RawOffers.token(2), 42).toBuilder()
                    .setKind(FrameKind.FRAME_KIND_EVENT).build();
            HandoffAck refused = HandoffAck.parseFrom(
                    RawOffers.offer(backend.control(), first.passed(), RawOffers.token(2), wrongKind).getPayload());
            assertThat(refused.getAccepted()).isFalse();
            assertThat(refused.getCorrelationId()).isEqualTo(42);
            assertThat(refused.getErrorDetail()).startsWith("invalid offer:");
            assertThat(first.clientSeesTheEnd()).as("the refused descriptor was closed, not adopted").isTrue();
            HandoffAck accepted = RawOffers.ack(backend.control(), second.passed(), RawOffers.token(3), 43);
            assertThat(accepted.getAccepted()).as("the control connection goes on").isTrue();
        }
    }

    @Test
    void aFileHandedOverIsRefusedBeforeTheAckAndClosedAndTheConnectionGoesOn() throws Exception {
        Path file = Files.writeString(dir.resolve("victim.txt"), "original\n");
        try (Backend backend = Backend.start(dir, (in, out) -> in.transferTo(out));
                RandomAccessFile open = new RandomAccessFile(file.toFile(), "rw"); Pair client = Pair.open()) {
            HandoffAck refused = RawOffers.ack(backend.control(), open.getFD(), RawOffers.token(6), 46);
            assertThat(refused.getAccepted()).isFalse();
            assertThat(refused.getErrorDetail()).isEqualTo("the descriptor is not a client connection: not a socket");
            assertThat(OpenDescriptors.snapshot().targets().values()).as("the backend's copy was closed; ours is left")
                    .containsOnlyOnce(file.toString());
            assertThat(RawOffers.ack(backend.control(), client.passed(), RawOffers.token(7), 47).getAccepted())
                    .as("the control connection goes on").isTrue();
        }
        assertThat(Files.readString(file)).as("nothing was served on it").isEqualTo("original\n");
    }

    @Test
    void aDatagramSocketOrAListeningSocketHandedOverIsRefusedBeforeTheAck() throws Exception {
        try (Backend backend = Backend.start(dir, (in, out) -> in.transferTo(out));
                AFUNIXSocketPair<AFUNIXDatagramChannel> datagrams = AFUNIXSocketPair.openDatagram();
                AFUNIXServerSocket listening = AFUNIXServerSocket.bindOn(
                        AFUNIXSocketAddress.of(dir.resolve("listening.sock")))) {
            HandoffAck datagram = RawOffers.ack(backend.control(), datagrams.getSocket2().getFileDescriptor(),
                    RawOffers.token(8), 48);
            assertThat(datagram.getAccepted()).isFalse();
            assertThat(datagram.getErrorDetail())
                    .isEqualTo("the descriptor is not a client connection: not a stream socket (type 2)");
            HandoffAck listener = RawOffers.ack(backend.control(), listening.getFileDescriptor(), RawOffers.token(9),
                    49);
            assertThat(listener.getAccepted()).isFalse();
            assertThat(listener.getErrorDetail()).isEqualTo(
                    "the descriptor is not a client connection: not connected (a listening socket, or one never connected)");
        }
    }

    @Test
    void anOfferTrickledWithinEachReadsTimeoutIsCutOffAtItsLimitAndItsDescriptorClosed() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        HandoffListener listener = new HandoffListener(endpoint, () -> null, Set.of(ProcessUser.uid()), 4,
                Duration.ofMillis(300));
        listener.start();
        try (listener; AFUNIXSocket control = RawOffers.connect(endpoint); Pair client = Pair.open()) {
            control.setOutboundFileDescriptors(client.passed());
            control.getOutputStream().write(RawOffers.token(12));
            byte[] offer = FrameIO.encode(RawOffers.offerFrame(RawOffers.token(12), 52));
            long started = System.nanoTime();
            int sent = 0;
            try {
                for (; sent < offer.length; sent++) {
                    control.getOutputStream().write(offer[sent]); // each well within a read's 5 s
                    Thread.sleep(100);
                }
            } catch (IOException closedByTheBackend) {
                // What is expected: it gave up on the offer.
            }
            // A write to a Unix socket fails only once its peer has closed: that is the backend giving up.
            assertThat(sent).as("the backend closed before the offer was whole").isLessThan(offer.length);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(3));
            assertThat(client.clientSeesTheEnd()).as("the descriptor it held was closed").isTrue();
        }
    }

    @Test
    void anOfferLongerThanAnyOfferNeedsClosesTheConnectionAndItsDescriptorAtTheHeader() throws Exception {
        try (Backend backend = Backend.start(dir, (in, out) -> in.transferTo(out)); Pair client = Pair.open()) {
            backend.control().setOutboundFileDescriptors(client.passed());
            OutputStream out = backend.control().getOutputStream();
            out.write(RawOffers.token(13));
            // The header and a little of the body in one write (the backend may close as soon as it
            // has read the header, and a second write would then fail); the rest never comes.
            byte[] start = Arrays.copyOf(RawClient.header(WireProtocol.MAX_HANDOFF_BODY + 1),
                    WireProtocol.HEADER_LENGTH + 100);
            long sent = System.nanoTime();
            out.write(start);
            int first;
            try {
                first = backend.control().getInputStream().read();
            } catch (SocketException reset) {
                first = -1; // closed with our bytes unread: the kernel says so with a reset
            }
            assertThat(first).as("closed without an ACK").isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - sent))
                    .as("at the header, not at a read's 5 s timeout waiting for the body")
                    .isLessThan(Duration.ofSeconds(3));
            assertThat(client.clientSeesTheEnd()).as("the descriptor it held was closed").isTrue();
        }
    }

    @Test
    void aControlConnectionFromAUserNotAllowedIsClosedBeforeItCanOffer() throws Exception {
        long someoneElse = ProcessUser.uid() + 4242;
        StreamHandler echo = (in, out) -> in.transferTo(out);
        try (Backend backend = Backend.start(dir.resolve("other"), echo, Set.of(someoneElse));
                Pair client = Pair.open()) {
            assertThatThrownBy(() -> RawOffers.ack(backend.control(), client.passed(), RawOffers.token(10), 50))
                    .as("closed without an answer").isInstanceOf(IOException.class);
            assertThat(client.clientSeesTheEnd()).as("nothing was adopted").isTrue();
        }
        try (Backend backend = Backend.start(dir.resolve("ours"), echo, Set.of(ProcessUser.uid()));
                Pair client = Pair.open()) {
            assertThat(RawOffers.ack(backend.control(), client.passed(), RawOffers.token(11), 51).getAccepted())
                    .as("the same offer from an allowed user").isTrue();
        }
    }

    @Test
    void aHandlerThatClosesItsInputStillWritesItsReplyToAHandedOffClient() throws Exception {
        StreamHandler readThenReply = (in, out) -> {
            byte[] request;
            try (InputStream closedAfterReading = in) {
                request = closedAfterReading.readNBytes(4);
            }
            out.write(("re:" + new String(request, StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII));
            out.flush();
        };
        try (Backend backend = Backend.start(dir, readThenReply); Pair client = Pair.open()) {
            RawOffers.ack(backend.control(), client.passed(), RawOffers.token(4), 44);
            Descriptors.closeWithoutShutdown(client.theirs()); // as the broker lets go: the backend's copy is the last
            client.ours().getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(client.ours().getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
                    .isEqualTo("re:ping");
        }
    }

    @Test
    void aHandlerThatClosesItsOutputEndsTheClientsReadsAndStillReadsWhatTheClientSends() throws Exception {
        CompletableFuture<String> readAfterClosingOutput = new CompletableFuture<>();
        StreamHandler sayByeThenListen = (in, out) -> {
            try (OutputStream closedAfterWriting = out) {
                closedAfterWriting.write("bye!".getBytes(StandardCharsets.US_ASCII));
            }
            readAfterClosingOutput.complete(new String(in.readNBytes(4), StandardCharsets.US_ASCII));
        };
        try (Backend backend = Backend.start(dir, sayByeThenListen); Pair client = Pair.open()) {
            RawOffers.ack(backend.control(), client.passed(), RawOffers.token(5), 45);
            assertThat(new String(client.ours().getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
                    .as("the reply, then the end").isEqualTo("bye!");
            // Sent after the end was seen: a connection shut down both ways would refuse it (broken pipe).
            client.ours().getOutputStream().write("more".getBytes(StandardCharsets.US_ASCII));
            assertThat(readAfterClosingOutput.get(5, TimeUnit.SECONDS)).isEqualTo("more");
        }
    }
}
