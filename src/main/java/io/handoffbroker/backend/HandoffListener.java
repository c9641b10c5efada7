package io.handoffbroker.backend;

import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.SocketFile;
import io.handoffbroker.unix.ThrottledWarning;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backend's side of the handoff (protocol section 3): accepts the broker's
 * control connections at the handoff endpoint and, for every offer, reads the 16
 * token bytes with their SCM_RIGHTS descriptor, reads the {@code HandoffOffer},
 * pairs the two by token, and answers a well-formed {@code HandoffAck} either way,
 * so the broker never waits out its deadline for a refusal.
 *
 * <p>Refusals (answered {@code accepted=false} with the reason): an offer frame
 * whose envelope is wrong (kind, payload type, encoding) around a readable offer, no
 * descriptor, more than one, a token of the wrong length, a token that differs from the
 * offer's, a replayed token, {@code request_id != correlation_id}, a descriptor that is not
 * a client's connection (a connected Unix domain stream socket), no free handler slot or a
 * server that is closing (the {@link Adopter} says which).
 * Control connections are taken only from the users given (see
 * {@link BackendServer#acceptHandoffsFrom}); others are closed as soon as they are accepted.
 * An offer that cannot be read at all, or not within its time, has nothing to answer with (no
 * correlation id, no token): the control connection is closed. The ACK echoes the
 * offer frame's {@code request_id}, {@code traceparent} and {@code tracestate}.
 * Descriptor ownership: a received descriptor that is not adopted is
 * closed here before the ACK is sent; an adopted one belongs to the handler.
 */
final class HandoffListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HandoffListener.class);
    private static final int TOKEN_BYTES = HandoffToken.LENGTH;
    // Each read's bound (the socket's timeout, set once): a read started just before an offer's
    // time is up ends by then, so a peer trickling bytes holds what it sent for at most about
    // the offer's limit and this together.
    private static final Duration READ_TIMEOUT = TokenReader.OFFER_LIMIT;

    /** Where adopted connections go. */
    interface Adopter {

        /** A handler slot, held from before the ACK until the connection is served or given up. */
        interface Slot {

            /**
             * Serves the adopted descriptor on a handler thread, which also makes what the handler
             * reads and writes through (file streams or a socket object): that takes time the ACK
             * must not wait for.
             */
            void serve(ReceivedDescriptor adopted);

            void release();
        }

        /** Reserves a handler slot; null when none is free or the server cannot serve any more. */
        @Nullable Slot reserve();

        /** Why {@link #reserve} gave no slot, as the refusal tells the broker. */
        default String whyNoSlot() {
            return "backend at capacity";
        }
    }

    /**
     * Control connections served at once. A broker keeps a handful open (its pool, 8 by
     * default), each costing a thread here; beyond this many something other than a broker is
     * connecting, and further ones are closed at once instead of each taking a thread. A
     * process of an allowed user can still take every place and stop handoffs (clients then
     * reconnect through backend_pipe); the endpoint's permissions and the allowed users are
     * what keep others out.
     */
    static final int MAX_CONTROL_CONNECTIONS = 64;
    /** The handoff endpoint, as an error about its path names it. */
    static final SocketFile.Party HANDOFF_ENDPOINT = new SocketFile.Party("backend",
            "handoff endpoint (the BackendServer's handoffEndpoint)");

    private final Path endpoint;
    private final Adopter adopter;
    private final Set<Long> brokerUids;
    private final int maxControls;
    private final Duration offerLimit;
    private final ThrottledWarning overLimit = new ThrottledWarning();
    private final ThrottledWarning notAllowed = new ThrottledWarning();
    // Offers no broker would send: a process of an allowed user decides how often.
    private final ThrottledWarning badOffers = new ThrottledWarning();
    private final ReplayGuard replays = new ReplayGuard(65_536, Duration.ofMinutes(5).toNanos());
    private final Set<AFUNIXSocket> controls = ConcurrentHashMap.newKeySet();
    private @Nullable BoundListener listener;

    /** @param brokerUids the users whose processes may open control connections */
    HandoffListener(Path endpoint, Adopter adopter, Set<Long> brokerUids) {
        this(endpoint, adopter, brokerUids, MAX_CONTROL_CONNECTIONS, TokenReader.OFFER_LIMIT);
    }

    /** @param offerLimit how long an offer may take from its token's first byte to its frame's last */
    HandoffListener(Path endpoint, Adopter adopter, Set<Long> brokerUids, int maxControls, Duration offerLimit) {
        this.endpoint = Objects.requireNonNull(endpoint, "endpoint");
        this.adopter = Objects.requireNonNull(adopter, "adopter");
        this.brokerUids = Set.copyOf(Objects.requireNonNull(brokerUids, "brokerUids"));
        if (maxControls < 1) {
            throw new IllegalArgumentException("maxControls must be at least 1, was " + maxControls);
        }
        this.maxControls = maxControls;
        if (offerLimit.isNegative() || offerLimit.isZero()) {
            throw new IllegalArgumentException("offerLimit must be positive, was " + offerLimit);
        }
        this.offerLimit = offerLimit;
    }

    void start() throws IOException {
        listener = BoundListener.start(endpoint, HANDOFF_ENDPOINT, BoundListener.DEFAULT_BACKLOG,
                "backend-handoff-accept", control -> {
            // Before anything else: whatever is handed over on an allowed connection is served, so
            // a process of another user must not get as far as an offer, nor hold a place.
            String stranger = notAllowed(control);
            if (stranger != null) {
                Descriptors.closeQuietly(control);
                notAllowed.count(count -> log.warn("handoff endpoint {}: {} control connection(s) closed at once "
                        + "since the last such warning, the last from {}: handoffs are taken from users {} only "
                        + "(BackendServer.acceptHandoffsFrom)", endpoint, count, stranger, brokerUids));
                return;
            }
            // Only this thread adds to controls, so the count cannot grow past the check.
            if (controls.size() >= maxControls) {
                Descriptors.closeQuietly(control);
                overLimit.count(count -> log.warn("handoff endpoint {}: {} control connection(s) closed at once "
                        + "since the last such warning: {} are open, the most served at once", endpoint, count,
                        maxControls));
                return;
            }
            // The reader takes its own number for the socket here, on the accept thread, before
            // close() can see the socket: close() waits for this thread, then closes what it knows.
            TokenReader reader;
            try {
                reader = TokenReader.of(control, offerLimit);
            } catch (IOException e) {
                log.warn("handoff endpoint {}: could not take on a control connection: {}", endpoint, e.toString());
                Descriptors.closeQuietly(control);
                return;
            }
            controls.add(control);
            try {
                Thread.ofPlatform().name("backend-handoff-control").daemon(true)
                        .start(() -> serveControl(control, reader));
            } catch (OutOfMemoryError noThread) {
                // The process's thread limit: the broker dials again, and the accept thread lives on.
                log.warn("handoff endpoint {}: no thread for a control connection ({}); closing it", endpoint,
                        noThread.toString());
                controls.remove(control);
                reader.close();
                Descriptors.closeQuietly(control);
            }
        });
    }

    /** A control connection's input that starts no read once the offer's time is up. */
    private static final class UntilDeadline extends FilterInputStream {

        private final long deadlineNanos;
        private final Duration limit;

        UntilDeadline(InputStream in, long deadlineNanos, Duration limit) {
            super(in);
            this.deadlineNanos = deadlineNanos;
            this.limit = limit;
        }

        @Override
        public int read() throws IOException {
            checkTime();
            try {
                return super.read();
            } catch (SocketTimeoutException stalled) {
                throw stalled(stalled);
            }
        }

        @Override
        public int read(byte[] bytes, int offset, int length) throws IOException {
            checkTime();
            try {
                return super.read(bytes, offset, length);
            } catch (SocketTimeoutException stalled) {
                throw stalled(stalled);
            }
        }

        private void checkTime() throws SocketTimeoutException {
            if (System.nanoTime() - deadlineNanos >= 0) {
                throw new SocketTimeoutException("offer not complete within " + limit.toMillis()
                        + " ms of its token's first byte");
            }
        }

        // The socket library would say only "Resource temporarily unavailable".
        private static SocketTimeoutException stalled(SocketTimeoutException timedOut) {
            SocketTimeoutException stalled = new SocketTimeoutException("offer stalled: no byte for "
                    + READ_TIMEOUT.toMillis() + " ms");
            stalled.initCause(timedOut);
            return stalled;
        }
    }

    /** Null when the peer's user may open control connections; otherwise who it is. */
    private @Nullable String notAllowed(AFUNIXSocket control) {
        AFUNIXSocketCredentials peer;
        try {
            peer = control.getPeerCredentials();
        } catch (IOException e) {
            return "a peer whose credentials could not be read (" + e + ")";
        }
        return brokerUids.contains(peer.getUid()) ? null : "uid " + peer.getUid() + " (pid " + peer.getPid() + ")";
    }

    /** Control connections being served now. */
    int controlConnections() {
        return controls.size();
    }

    /** One control connection carries any number of offer/ACK exchanges in sequence. */
    private void serveControl(AFUNIXSocket control, TokenReader reader) {
        try (control; reader) {
            InputStream in = control.getInputStream();
            // One timeout for the whole connection, set once: it bounds each read of an offer, while
            // an idle connection simply waits again (see TokenReader.read).
            control.setSoTimeout((int) READ_TIMEOUT.toMillis());
            while (true) {
                TokenReader.Incoming incoming = reader.read();
                if (incoming == null) {
                    return;
                }
                try {
                    Frame frame;
                    try {
                        frame = FrameIO.read(new UntilDeadline(in, incoming.deadlineNanos(), offerLimit),
                                FrameLimit.HANDOFF);
                    } catch (IOException e) {
                        warnOfBadOffer(e.toString());
                        return;
                    } finally {
                        reader.discardStrays();
                    }
                    if (!answer(control, frame, incoming)) {
                        return;
                    }
                } finally {
                    // What was not adopted, whatever ended the exchange: a refusal, a failure, a bug.
                    // Nothing else would close it (received numbers are not tied to the socket).
                    incoming.closeAll();
                }
            }
        } catch (IOException e) {
            log.debug("handoff endpoint {}: control connection ended: {}", endpoint, e.toString());
        } finally {
            controls.remove(control);
        }
    }

    /** @return false when the control connection must be closed (the offer was unreadable) */
    private boolean answer(AFUNIXSocket control, Frame frame, TokenReader.Incoming incoming) throws IOException {
        String badEnvelope = null;
        try {
            Envelope.validate(frame, FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_HANDOFF);
        } catch (WireException e) {
            badEnvelope = e.getMessage();
        }
        HandoffOffer offer;
        try {
            offer = Envelope.payload(frame, HandoffOffer.parser(), "HandoffOffer");
        } catch (WireException e) {
            // Nothing to answer with: no correlation id, no token. The broker's deadline ends it.
            warnOfBadOffer("invalid offer frame: " + (badEnvelope != null ? badEnvelope : e.getMessage()));
            return false;
        }
        // A frame read whole keeps the stream in step, so a bad envelope around a readable offer is
        // refused like any other bad offer: the broker tells its client at once, instead of after its deadline.
        String refusal = badEnvelope != null ? "invalid offer: " + badEnvelope : check(frame, offer, incoming);
        Adopter.Slot slot = null;
        if (refusal == null) {
            slot = adopter.reserve();
            if (slot == null) {
                refusal = adopter.whyNoSlot();
            }
        }
        ReceivedDescriptor adopted = null;
        if (slot != null) {
            adopted = incoming.takeFirst();
        } else {
            incoming.closeAll();
            if (incoming.notTaken() != null) {
                log.warn("handoff endpoint {}: refused offer {}: {}", endpoint, offer.getCorrelationId(), refusal);
            } else {
                log.info("handoff endpoint {}: refused offer {}: {}", endpoint, offer.getCorrelationId(), refusal);
            }
        }
        HandoffAck ack = HandoffAck.newBuilder()
                .setToken(offer.getToken())
                .setAccepted(adopted != null)
                .setErrorDetail(refusal == null ? "" : refusal)
                .setCorrelationId(offer.getCorrelationId())
                .build();
        // The ACK goes out before the handler starts: the broker's relay, and so the
        // client's first request, waits for it, while the handler only waits for that request.
        try {
            FrameIO.write(control.getOutputStream(), Envelope.responseTo(frame, WireProtocol.PAYLOAD_HANDOFF, ack));
        } catch (IOException | RuntimeException e) {
            if (adopted != null) {
                // The broker never learns of the acceptance and treats the handoff as failed; the
                // client reconnects. Serving a connection it has given up would only hold a slot.
                adopted.close();
                slot.release();
            }
            throw e;
        }
        if (adopted != null) {
            slot.serve(adopted);
        }
        return true;
    }

    // A process of an allowed user decides how often: one line at most every ThrottledWarning.INTERVAL.
    private void warnOfBadOffer(String last) {
        badOffers.count(count -> log.warn("handoff endpoint {}: {} control connection(s) closed since the last such "
                + "warning for want of a valid offer after the token, the last: {}", endpoint, count, last));
    }

    private @Nullable String check(Frame frame, HandoffOffer offer, TokenReader.Incoming incoming) {
        if (incoming.notTaken() != null) {
            // Out of descriptors, typically. Still an answer: the broker tells the client at
            // once, instead of waiting out its deadline for an ACK that never comes.
            return "backend could not take the descriptor: " + incoming.notTaken();
        }
        List<ReceivedDescriptor> received = incoming.descriptors();
        if (received.isEmpty()) {
            return "no descriptor received with the offer";
        }
        if (received.size() > 1 || incoming.truncated()) {
            return "expected one descriptor, received " + (incoming.truncated() ? "more than " : "") + received.size();
        }
        String notAConnection;
        try {
            notAConnection = received.getFirst().whyNotAClientConnection();
        } catch (IOException e) {
            notAConnection = e.getMessage();
        }
        if (notAConnection != null) {
            return "the descriptor is not a client connection: " + notAConnection;
        }
        if (frame.getRequestId() != offer.getCorrelationId()) {
            return "request_id does not match correlation_id";
        }
        if (offer.getToken().size() != TOKEN_BYTES) {
            return "handoff token must be 16 bytes";
        }
        HandoffToken token = HandoffToken.of(incoming.token());
        if (!token.matches(offer.getToken())) {
            return "handoff token mismatch";
        }
        if (!replays.consume(token, System.nanoTime())) {
            return "handoff token already consumed";
        }
        return null;
    }

    @Override
    public void close() {
        BoundListener bound = listener;
        if (bound == null) {
            return; // never bound: the socket file, if any, belongs to someone else
        }
        bound.close();
        // Closing shuts each socket down first, which also ends a read its thread is making
        // through its own number for it (see TokenReader).
        controls.forEach(Descriptors::closeQuietly);
    }
}
