package io.handoffbroker.handoff;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.ConnectionResetSocketException;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A handoff endpoint written with raw junixsocket, whose every exchange follows a
 * script: by default it behaves (adopts the descriptor, serves an echo on it and
 * ACKs correctly); {@link #then(Behaviour...)} queues misbehaviour for the next
 * exchanges. Each control connection is served on its own thread and may carry any
 * number of exchanges. Descriptors it receives and neither adopts nor releases are
 * held (a misbehaving backend keeps what it got) until {@link #releaseHeldDescriptors()},
 * {@link #crash()} or {@link #close()}, then closed without shutdown. Public, with
 * the means to script it, for tests in other packages (metrics, logs).
 */
public final class ScriptedHandoffBackend implements AutoCloseable {

    /** What the backend does with one received offer. */
    @FunctionalInterface
    public interface Behaviour {
        void act(Exchange exchange) throws IOException;
    }

    /** One offer as the backend received it, and the means to answer it. */
    public final class Exchange {
        final AFUNIXSocket control;
        public final byte[] tokenBytes;
        final List<FileDescriptor> descriptors;
        final Frame frame;
        final HandoffOffer offer;
        final long receivedNanos = System.nanoTime();
        final int descriptorCount;
        volatile boolean controlClosed;

        Exchange(AFUNIXSocket control, byte[] tokenBytes, List<FileDescriptor> descriptors, Frame frame,
                HandoffOffer offer) {
            this.control = control;
            this.tokenBytes = tokenBytes;
            this.descriptors = descriptors;
            this.descriptorCount = descriptors.size();
            this.frame = frame;
            this.offer = offer;
        }

        /** The correct ACK for this offer, to adjust. */
        HandoffAck.Builder correctAck(boolean accepted, String detail) {
            return HandoffAck.newBuilder().setToken(offer.getToken()).setAccepted(accepted).setErrorDetail(detail)
                    .setCorrelationId(offer.getCorrelationId());
        }

        void send(Frame reply) throws IOException {
            write(FrameIO.encode(reply));
        }

        void sendAck(HandoffAck ack, long requestId) throws IOException {
            send(Envelope.frame(FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF, requestId, ack));
        }

        void write(byte[] bytes) throws IOException {
            OutputStream out = control.getOutputStream();
            out.write(bytes);
            out.flush();
        }

        /**
         * Adopts the one descriptor and serves an echo on it. The descriptor is already a
         * duplicate of the received one (see {@code serveControl}), so the adopted
         * connection does not die with the control connection.
         */
        void adoptAndEcho() throws IOException {
            FileDescriptor fd = descriptors.removeFirst();
            AFUNIXSocket adopted = FileDescriptorCast.using(fd).as(AFUNIXSocket.class);
            ScriptedHandoffBackend.this.adopted.add(adopted);
            adoptedCount.incrementAndGet();
            Thread.ofPlatform().name("scripted-echo").daemon(true).start(() -> echo(adopted));
        }

        /** Closes the received descriptors now, without shutdown (they are not adopted). */
        void releaseDescriptors() {
            closeAll(descriptors);
        }

        void closeControl() throws IOException {
            controlClosed = true;
            releaseDescriptors();
            control.close();
        }
    }

    private final Path endpoint;
    private final Queue<Behaviour> script = new ConcurrentLinkedQueue<>();
    private final Set<AFUNIXSocket> controls = ConcurrentHashMap.newKeySet();
    private final Set<AFUNIXSocket> adopted = ConcurrentHashMap.newKeySet();
    private final Set<AFUNIXSocket> endedByBroker = ConcurrentHashMap.newKeySet();
    private final List<FileDescriptor> held = new CopyOnWriteArrayList<>();
    private final List<Exchange> exchanges = new CopyOnWriteArrayList<>();
    private final AtomicInteger controlsAccepted = new AtomicInteger();
    private final AtomicInteger adoptedCount = new AtomicInteger();
    private volatile Behaviour defaultBehaviour = acceptAndEcho();
    private volatile AFUNIXServerSocket listener;
    private volatile Thread acceptThread;
    private volatile boolean stopping;

    public ScriptedHandoffBackend(Path endpoint) {
        this.endpoint = endpoint;
    }

    /** Binds (again, after a {@link #crash()}) and accepts control connections. */
    public synchronized ScriptedHandoffBackend start() throws IOException {
        Files.createDirectories(endpoint.getParent());
        Files.deleteIfExists(endpoint);
        AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(endpoint));
        listener = server;
        stopping = false;
        acceptThread = Thread.ofPlatform().name("scripted-accept").daemon(true).start(() -> acceptLoop(server));
        return this;
    }

    /** Queues behaviours for the next exchanges, in order; afterwards the default applies again. */
    public ScriptedHandoffBackend then(Behaviour... next) {
        script.addAll(List.of(next));
        return this;
    }

    /** The behaviour for every exchange without a queued one. */
    ScriptedHandoffBackend byDefault(Behaviour behaviour) {
        this.defaultBehaviour = behaviour;
        return this;
    }

    Path endpoint() {
        return endpoint;
    }

    public List<Exchange> exchanges() {
        return List.copyOf(exchanges);
    }

    int controlConnectionsAccepted() {
        return controlsAccepted.get();
    }

    int openControlConnections() {
        return controls.size();
    }

    /** True once the broker closed the control connection: this end saw its end of stream, or a reset. */
    boolean endedByBroker(AFUNIXSocket control) {
        return endedByBroker.contains(control);
    }

    int adoptedConnections() {
        return adoptedCount.get();
    }

    /** Waits until the n-th exchange (1-based) arrived; null when it did not within the timeout. */
    public Exchange awaitExchange(int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (exchanges.size() < n) {
            if (System.nanoTime() - deadline > 0) {
                return null;
            }
            Thread.sleep(2);
        }
        return exchanges.get(n - 1);
    }

    private void acceptLoop(AFUNIXServerSocket server) {
        while (!server.isClosed()) {
            try {
                AFUNIXSocket control = server.accept();
                if (stopping) {
                    control.close();
                    return;
                }
                controls.add(control);
                controlsAccepted.incrementAndGet();
                Thread.ofPlatform().name("scripted-control").daemon(true).start(() -> serveControl(control));
            } catch (IOException e) {
                // closed, or a transient failure: the loop condition decides
            }
        }
    }

    private void serveControl(AFUNIXSocket control) {
        List<FileDescriptor> received = new ArrayList<>();
        try (control) {
            control.setAncillaryReceiveBufferSize(1024);
            InputStream in = control.getInputStream();
            while (true) {
                byte[] token = new byte[16];
                int done = 0;
                while (done < token.length) {
                    int n = in.read(token, done, token.length - done);
                    FileDescriptor[] fds = control.getReceivedFileDescriptors();
                    if (fds != null) {
                        for (FileDescriptor fd : fds) {
                            // junixsocket closes every received descriptor still open when the socket it
                            // arrived on closes: keep a duplicate it does not know, close the original.
                            received.add(FileDescriptorCast.duplicating(fd).as(FileDescriptor.class));
                            Descriptors.closeReceived(fd);
                        }
                    }
                    if (n < 0) {
                        endedByBroker.add(control);
                        return;
                    }
                    done += n;
                }
                Frame frame = FrameIO.read(in, FrameLimit.ANY);
                HandoffOffer offer = HandoffOffer.parseFrom(frame.getPayload());
                Exchange exchange = new Exchange(control, token, new CopyOnWriteArrayList<>(received), frame, offer);
                received.clear();
                exchanges.add(exchange);
                Behaviour behaviour = script.poll();
                try {
                    (behaviour == null ? defaultBehaviour : behaviour).act(exchange);
                } finally {
                    // What the behaviour neither adopted nor released is held, as a misbehaving backend
                    // would, until the test releases it (or the backend crashes).
                    held.addAll(exchange.descriptors);
                }
                if (exchange.controlClosed) {
                    return;
                }
            }
        } catch (ConnectionResetSocketException reset) {
            // The broker closed the control connection with bytes of ours unread (junixsocket then
            // reports this end closed too).
            endedByBroker.add(control);
        } catch (IOException e) {
            // The broker closed the control connection, or we did: nothing more to serve.
            if (!control.isClosed()) {
                endedByBroker.add(control);
            }
        } finally {
            closeAll(received);
            controls.remove(control);
        }
    }

    /** Closes (without shutdown) every received descriptor the script held. */
    public void releaseHeldDescriptors() {
        closeAll(held);
    }

    int heldDescriptors() {
        return held.size();
    }

    private void echo(AFUNIXSocket connection) {
        try {
            new EchoHandler().serve(connection);
        } catch (IOException e) {
            // client gone
        } finally {
            adopted.remove(connection);
            closeAdopted(connection);
        }
    }

    /**
     * Closes an adopted connection for real. On Java 25, {@code close()} of a socket
     * made by {@code FileDescriptorCast} shuts it down but never closes the descriptor
     * (java.net.Socket.close() skips impl.close() for a socket it did not create).
     */
    private static void closeAdopted(AFUNIXSocket connection) {
        try {
            Descriptors.closeWithoutShutdown(connection);
        } catch (IOException ignored) {
            // already closed
        }
    }

    /**
     * Closes the listener and removes its socket file, leaving the control connections
     * already accepted open and silent: the endpoint is gone, the old exchanges are not.
     */
    public synchronized void stopListening() {
        closeListener();
        deleteSocketFile();
    }

    /** Closes the listener and every connection, as a crashing process would. Restart with {@link #start()}. */
    public synchronized void crash() {
        closeListener();
        for (AFUNIXSocket control : controls) {
            try {
                control.close();
            } catch (IOException ignored) {
                // already closed
            }
        }
        for (AFUNIXSocket connection : adopted) {
            closeAdopted(connection);
        }
        closeAll(held);
        deleteSocketFile();
    }

    private void closeListener() {
        AFUNIXServerSocket server = listener;
        if (server != null) {
            // Wake our own accept first: junixsocket's close() would do it with a temporary socket
            // that it leaks whenever that connect fails (AFSocketImpl.unblockAccepts0).
            stopping = true;
            try (AFUNIXSocket wake = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(endpoint))) {
                acceptThread.join(2_000);
            } catch (IOException | InterruptedException ignored) {
                // the accept loop ended already
            }
            try {
                server.close();
            } catch (IOException ignored) {
                // already closed
            }
            listener = null;
        }
    }

    private void deleteSocketFile() {
        try {
            Files.deleteIfExists(endpoint);
        } catch (IOException ignored) {
            // best effort
        }
    }

    @Override
    public void close() {
        crash();
    }

    private static void closeAll(List<FileDescriptor> fds) {
        for (FileDescriptor fd : fds) {
            try {
                Descriptors.closeReceived(fd);
            } catch (IOException ignored) {
                // already closed
            }
        }
        fds.clear();
    }

    // ---- behaviours ----

    /** Well-behaved: adopt, serve an echo, ACK correctly. */
    public static Behaviour acceptAndEcho() {
        return exchange -> {
            exchange.adoptAndEcho();
            exchange.sendAck(exchange.correctAck(true, "").build(), exchange.frame.getRequestId());
        };
    }

    /**
     * A backend that writes first: it fills the client's receive queue, makes the socket
     * blocking (as a backend adopting it does; the broker's copy shares the mode), and then
     * accepts. The descriptor stays in the exchange, for the test to release.
     */
    public static Behaviour fillTheClientMakeItBlockingThenAccept() {
        return exchange -> {
            int client = Posix.number(exchange.descriptors.getFirst());
            byte[] chunk = new byte[64 * 1024];
            while (Posix.sendWithoutWaiting(client, chunk) > 0) {
                // until the client's queue has no more room
            }
            Posix.makeBlocking(client);
            exchange.sendAck(exchange.correctAck(true, "").build(), exchange.frame.getRequestId());
        };
    }

    /** Adopts and ACKs correctly, but sends the ACK twice in one write: a stray frame stays in the stream. */
    public static Behaviour acceptAndAckTwice() {
        return exchange -> {
            exchange.adoptAndEcho();
            byte[] ack = FrameIO.encode(Envelope.frame(FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF,
                    exchange.frame.getRequestId(), exchange.correctAck(true, "").build()));
            byte[] twice = java.util.Arrays.copyOf(ack, ack.length * 2);
            System.arraycopy(ack, 0, twice, ack.length, ack.length);
            exchange.write(twice);
        };
    }

    /** Well-behaved for the exchange, then closes the control connection (a backend that never keeps one). */
    public static Behaviour acceptThenCloseControl() {
        return exchange -> {
            acceptAndEcho().act(exchange);
            exchange.closeControl();
        };
    }

    /** Holds the descriptor and never answers; the connection stays open. */
    public static Behaviour neverAnswer() {
        return exchange -> {
        };
    }

    /** Holds the descriptor and sends a correct, accepting ACK after {@code delay}. */
    public static Behaviour answerAfter(Duration delay) {
        return answerAfter(delay, UnaryOperator.identity());
    }

    /** Holds the descriptor and sends an accepting ACK with one field changed after {@code delay}. */
    public static Behaviour answerAfter(Duration delay, UnaryOperator<HandoffAck.Builder> change) {
        return exchange -> {
            sleepUntil(exchange.receivedNanos + delay.toNanos());
            exchange.sendAck(change.apply(exchange.correctAck(true, "")).build(), exchange.frame.getRequestId());
        };
    }

    /** A well-formed refusal: releases the descriptor, then ACKs accepted=false with the detail. */
    public static Behaviour refuse(String detail) {
        return exchange -> {
            exchange.releaseDescriptors();
            exchange.sendAck(exchange.correctAck(false, detail).build(), exchange.frame.getRequestId());
        };
    }

    /** An accepting ACK with one field changed. */
    public static Behaviour ackWith(UnaryOperator<HandoffAck.Builder> change) {
        return exchange -> exchange.sendAck(change.apply(exchange.correctAck(true, "")).build(),
                exchange.frame.getRequestId());
    }

    /** A correct, accepting ACK in a frame whose request_id is not the correlation id. */
    public static Behaviour ackWithRequestId(long offset) {
        return exchange -> exchange.sendAck(exchange.correctAck(true, "").build(),
                exchange.frame.getRequestId() + offset);
    }

    /** A correct, accepting ACK payload in a frame the broker must not accept as a response. */
    public static Behaviour ackInFrame(UnaryOperator<Frame.Builder> change) {
        return exchange -> exchange.send(change.apply(Envelope.frame(FrameKind.FRAME_KIND_RESPONSE,
                WireProtocol.PAYLOAD_HANDOFF, exchange.frame.getRequestId(), exchange.correctAck(true, "").build())
                .toBuilder()).build());
    }

    /** Bytes that are no frame at all. */
    public static Behaviour garbage() {
        return exchange -> exchange.write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    /** Closes the control connection after reading the offer, before any ACK. */
    public static Behaviour closeControl() {
        return Exchange::closeControl;
    }

    /** Sends the first half of a correct ACK frame, then closes the control connection. */
    public static Behaviour closeInTheMiddleOfTheAck() {
        return exchange -> {
            byte[] ack = FrameIO.encode(Envelope.frame(FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF,
                    exchange.frame.getRequestId(), exchange.correctAck(true, "").build()));
            exchange.write(java.util.Arrays.copyOf(ack, ack.length / 2));
            exchange.closeControl();
        };
    }

    private static void sleepUntil(long nanos) {
        long left;
        while ((left = nanos - System.nanoTime()) > 0) {
            try {
                Thread.sleep(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
