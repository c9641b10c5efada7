package io.handoffbroker.handoff;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.server.ClientConnection;
import io.handoffbroker.server.ConnectionRouter;
import io.handoffbroker.server.HelloReplies;
import io.handoffbroker.unix.OutOfResourcesException;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.unix.ThrottledWarning;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.HandoffToken;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Collection;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSelectorProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides, per negotiated Hello, between the handoff and the reconnect route, and
 * runs the handoff to its end under the ownership rule.
 *
 * <p>On the event loop ({@link #route}): eligibility in this order, each a fallback
 * reason: client capability ({@code client_unsupported}), handoff switched on and
 * the service has a handoff endpoint ({@code service_policy_disabled}), the
 * endpoint answered its last probe ({@code backend_unavailable}, or
 * {@code permission_denied} when the probe was refused for lack of permission, or found its
 * listener running as a uid the service's {@code handoff-endpoint-uids} does not name), the backend's
 * recent failures under the limit ({@code rate_limited}), a free token slot
 * ({@code fd_pressure}). An ineligible client gets {@code Negotiated} without a
 * token and reconnects. An eligible one gets {@code Negotiated} with the token; the
 * connection is then detached from the loop's reading, and the delivery goes on as below.
 *
 * <p>With an idle pooled control connection the exchange stays on the event loop:
 * the descriptor and the offer are written right after the {@code Negotiated}, and
 * the ACK is read when the loop sees it arrive ({@link io.handoffbroker.server.Reactor}),
 * so no other thread is woken. Otherwise, on a worker ({@link #deliver}): borrow
 * (dialling, bounded by the borrow timeout), run one {@link WireHandoffDelivery}.
 * Either way the ownership rule then decides (see the package documentation). Every path ends with the token consumed or revoked, the client
 * connection closed or released exactly once, and the control connection
 * returned, destroyed or handed to the {@link LateAckWatcher}.
 */
public final class HandoffOrchestrator implements ConnectionRouter, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HandoffOrchestrator.class);
    private static final long LOOP_SEND_BUDGET_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

    private final HandoffSettings settings;
    private final HelloReplies replies;
    private final PendingHandoffs pending;
    private final ControlConnectionPool pool;
    private final WireHandoffDelivery delivery;
    private final LateAckWatcher watcher;
    private final FailedAttemptLimiter failures;
    private final HandoffEndpointProbe handoffEndpoint;
    private final HandoffEvents events;
    private final ThreadPoolExecutor workers;
    // A client that floods its own connection before the relay decides how often this repeats.
    private final ThrottledWarning relaysNotFitting = new ThrottledWarning();

    public HandoffOrchestrator(HandoffSettings settings, HelloReplies replies, PendingHandoffs pending,
            ControlConnectionPool pool, WireHandoffDelivery delivery, LateAckWatcher watcher,
            FailedAttemptLimiter failures, HandoffEndpointProbe handoffEndpoint, HandoffEvents events,
            ThreadPoolExecutor workers) {
        this.settings = settings;
        this.replies = replies;
        this.pending = pending;
        this.pool = pool;
        this.delivery = delivery;
        this.watcher = watcher;
        this.failures = failures;
        this.handoffEndpoint = handoffEndpoint;
        this.events = events;
        this.workers = workers;
    }

    /**
     * The production assembly: one pool with an entry per handoff endpoint of the
     * services that accept handoffs (each dialling only a listener of the uids its services
     * allow, see {@link ControlConnectionPool#register(ServiceBackend)}), a bounded worker pool (its queue holds at most
     * {@code max-pending-tokens} deliveries), the pending-token store, the late-ACK
     * watcher and the failed-attempt limiter, all sized from {@code settings}.
     *
     * @param handoffEndpoint why the endpoint failed its last probe, if it did
     */
    public static HandoffOrchestrator create(HandoffSettings settings, HelloReplies replies,
            Collection<ServiceBackend> services, HandoffEndpointProbe handoffEndpoint, HandoffEvents events)
            throws IOException {
        return create(settings, replies, services, handoffEndpoint, events, new WireHandoffDelivery());
    }

    /** As {@link #create(HandoffSettings, HelloReplies, Collection, HandoffEndpointProbe, HandoffEvents)}, with this delivery. */
    public static HandoffOrchestrator create(HandoffSettings settings, HelloReplies replies,
            Collection<ServiceBackend> services, HandoffEndpointProbe handoffEndpoint, HandoffEvents events,
            WireHandoffDelivery delivery) throws IOException {
        ControlConnectionPool pool = new ControlConnectionPool(settings.pool(), events);
        if (settings.enabled()) {
            for (ServiceBackend backend : services) {
                if (backend.acceptsHandoffs()) {
                    pool.register(backend);
                }
            }
        }
        ThreadPoolExecutor workers = new ThreadPoolExecutor(settings.workers(), settings.workers(), 30,
                TimeUnit.SECONDS, new ArrayBlockingQueue<>(settings.maxPendingTokens()),
                Thread.ofPlatform().name("broker-handoff-", 0).daemon(true).factory());
        workers.allowCoreThreadTimeOut(true);
        return new HandoffOrchestrator(settings, replies,
                new PendingHandoffs(new SecureRandom(), settings.maxPendingTokens(), settings.tokenTtl().toNanos()),
                pool, delivery,
                new LateAckWatcher(settings.ackGracePeriod().toNanos(), AFUNIXSelectorProvider.provider().openSelector()),
                new FailedAttemptLimiter(settings.failedAttemptLimit(), settings.failedAttemptWindow().toNanos()),
                handoffEndpoint, events, workers);
    }

    @Override
    public void route(ClientConnection connection, HelloDecision.Negotiate decision) {
        ServiceBackend backend = decision.backend();
        long now = System.nanoTime();
        String ineligible = ineligibility(decision, now);
        Optional<HandoffToken> token = Optional.empty();
        long deadline = now + settings.ackDeadline().toNanos();
        if (ineligible == null) {
            token = pending.issue(connection.id(), deadline, now);
            if (token.isEmpty()) {
                ineligible = FallbackReason.FD_PRESSURE;
            }
        }
        if (ineligible != null) {
            String reason = ineligible;
            // Counted once the Negotiated is written, as the Hello is: a client gone before it
            // took no route.
            connection.reply(replies.negotiated(decision, connection.id(), null), decision, written -> {
                events.fellBack(backend, written.id(), reason, "handoff not attempted");
                ClientConnection.CLOSE_AFTER_REPLY.accept(written);
            });
            return;
        }
        HandoffToken issued = token.get();
        connection.reply(replies.negotiated(decision, connection.id(), issued), decision, written -> {
            written.detach();
            Attempt attempt = new Attempt(written, backend, issued, deadline, now);
            onLoop(attempt, () -> offerOnLoop(attempt));
        }, abandoned -> {
            // The client never received its token: nothing was offered, nothing to relay, no route taken.
            pending.revoke(abandoned.id());
            log.info("connection {}: client gone before its Negotiated was written; handoff token revoked",
                    abandoned.id());
        });
    }

    private String ineligibility(HelloDecision.Negotiate decision, long now) {
        ServiceBackend backend = decision.backend();
        if ((decision.hello().getClientCapabilities() & WireProtocol.CAP_HANDLE_PASSING) == 0) {
            return FallbackReason.CLIENT_UNSUPPORTED;
        }
        if (!settings.enabled() || !backend.acceptsHandoffs()) {
            return FallbackReason.SERVICE_POLICY_DISABLED;
        }
        String probeFailure = handoffEndpoint.failure(backend);
        if (probeFailure != null) {
            return FallbackReason.unreachable(probeFailure);
        }
        if (!failures.allows(backend.label(), now)) {
            return FallbackReason.RATE_LIMITED;
        }
        return null;
    }

    /**
     * Event loop: the usual case, with an idle pooled control connection, runs the
     * whole exchange on the loop that read the Hello: descriptor and offer are
     * written at once (a connection just validated clean has an empty send buffer),
     * and the ACK is read when the loop sees it arrive. No other thread wakes up on
     * the way. Without an idle connection the exchange needs a dial, which may wait,
     * so it goes to a worker.
     */
    private void offerOnLoop(Attempt attempt) {
        ControlConnection idle = pool.pollIdle(attempt.backend.handoffEndpoint().orElseThrow());
        if (idle == null) {
            deliverOnWorker(attempt);
            return;
        }
        ControlConnection control = attempt.hold(idle);
        ClientConnection client = attempt.client;
        DeliveryOutcome failed;
        try {
            // Bounded far below the ACK deadline: the loop must never wait for a send buffer.
            long sendDeadline = Math.min(attempt.deadline, System.nanoTime() + LOOP_SEND_BUDGET_NANOS);
            failed = delivery.offer(control, client.channel().getFileDescriptor(), attempt.token,
                    attempt.backend.name(), client.id(), sendDeadline);
        } catch (IOException e) {
            failed = new DeliveryOutcome(DeliveryOutcome.Status.TRANSFER_FAILED, false,
                    "client descriptor unavailable: " + e.getMessage(), null);
        }
        if (failed == null) {
            lookUpDescriptor(client);
            awaitAckOnLoop(attempt);
        } else if (failed.status() == DeliveryOutcome.Status.TRANSFER_FAILED) {
            // Nothing went out; the backend may have closed this pooled connection since its validation.
            pool.invalidate(attempt.letGo());
            deliverOnWorker(attempt);
        } else {
            conclude(attempt, failed);
        }
    }

    // The relay's send needs the client's descriptor number (see ClientConnection.descriptor): learnt
    // while the backend works on the offer, not between its ACK and the relay.
    private static void lookUpDescriptor(ClientConnection client) {
        if (!Posix.available()) {
            return; // the relay goes through the channel then
        }
        try {
            client.descriptor();
        } catch (IOException e) {
            // The relay's send asks again and reports it.
        }
    }

    private void awaitAckOnLoop(Attempt attempt) {
        ControlConnection control = attempt.held();
        Runnable onReadable = () -> onLoop(attempt, () -> {
            DeliveryOutcome outcome = delivery.readAck(control, attempt.token, attempt.client.id(), attempt.deadline);
            if (outcome == null) {
                awaitAckOnLoop(attempt); // part of the ACK so far
            } else {
                conclude(attempt, outcome);
            }
        });
        attempt.client.reactor().awaitReadable(control.channel(), control.descriptor(), attempt.deadline, onReadable,
                () -> onLoop(attempt, () -> conclude(attempt, noAckBy(attempt))));
    }

    // The loop gives up a wait at its deadline, or earlier when it stops. Either is concluded as
    // a passed deadline; the detail in the log and the events says which.
    private static DeliveryOutcome noAckBy(Attempt attempt) {
        return System.nanoTime() - attempt.deadline >= 0 ? WireHandoffDelivery.deadlinePassed()
                : WireHandoffDelivery.stoppedBeforeAck();
    }

    private void deliverOnWorker(Attempt attempt) {
        try {
            workers.execute(new QueuedDelivery(attempt));
        } catch (RejectedExecutionException full) {
            brokerOwnedFailure(attempt, FallbackReason.FD_PRESSURE, "broker is overloaded");
        }
    }

    /** A delivery waiting for a worker: never started, so the broker still owns its client. */
    private final class QueuedDelivery implements Runnable {

        private final Attempt attempt;

        QueuedDelivery(Attempt attempt) {
            this.attempt = attempt;
        }

        @Override
        public void run() {
            guarded(attempt, () -> deliver(attempt));
        }
    }

    /**
     * Handoffs waiting for a worker: each needed a dial (no idle control connection was
     * pooled). A queue that stays long means too few {@code workers} or a backend slow to accept.
     */
    public int queuedDeliveries() {
        return workers.getQueue().size();
    }

    /** A step on the event loop: guarded, and the pool may not dial on this thread meanwhile. */
    private void onLoop(Attempt attempt, Runnable step) {
        ControlConnectionPool.withoutDialling(() -> guarded(attempt, step));
    }

    /**
     * Runs a step of a detached handoff; a bug in it must not leave the connection, its
     * slot, its token or its control connection behind. Nothing is known about where the
     * descriptor got to, so the broker's copy is released without shutdown and nothing more
     * is written to the client, which falls back when its relay wait ends; nothing is known
     * either about what the step left on the control connection's stream, so a control
     * connection still held is discarded, never returned.
     */
    private void guarded(Attempt attempt, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException bug) {
            ClientConnection client = attempt.client;
            log.error("connection {}: handoff to {} failed unexpectedly", client.id(), attempt.backend.label(), bug);
            ControlConnection held = attempt.letGoIfHeld();
            if (held != null) {
                pool.invalidate(held);
            }
            pending.revoke(client.id());
            if (!client.isClosed()) {
                client.releaseAfterHandoff("internal error");
                events.fellBack(attempt.backend, client.id(), FallbackReason.BACKEND_UNAVAILABLE,
                        "internal error: " + bug);
            }
        }
    }

    /** Worker thread: one delivery and its consequences. */
    void deliver(Attempt attempt) {
        Path endpoint = attempt.backend.handoffEndpoint().orElseThrow();
        if (overdue(attempt)) {
            return;
        }
        ClientConnection client = attempt.client;
        FileDescriptor descriptor;
        try {
            descriptor = client.channel().getFileDescriptor();
        } catch (IOException e) {
            brokerOwnedFailure(attempt, FallbackReason.BACKEND_UNAVAILABLE, "client descriptor unavailable: " + why(e));
            return;
        }
        if (!borrow(attempt, endpoint, "") || overdue(attempt)) {
            return;
        }
        DeliveryOutcome outcome = delivery.deliver(attempt.held(), descriptor, attempt.token, attempt.backend.name(),
                client.id(), attempt.deadline);
        if (outcome.status() == DeliveryOutcome.Status.TRANSFER_FAILED && attempt.held().exchanges() > 0) {
            // A pooled connection the backend closed since its validation: nothing went out, so try once fresh.
            pool.invalidate(attempt.letGo());
            // The same rules as for the first borrow: never send past the deadline.
            if (!borrow(attempt, endpoint, " after a failed send") || overdue(attempt)) {
                return;
            }
            outcome = delivery.deliver(attempt.held(), descriptor, attempt.token, attempt.backend.name(), client.id(),
                    attempt.deadline);
        }
        conclude(attempt, outcome);
    }

    /**
     * Borrows a control connection for the attempt (dialling if needed, waiting at most the
     * borrow timeout, neither past the ACK deadline); on failure tells the client and returns
     * false. Waiting out the timeout or the deadline because every connection was busy is the
     * broker's own pressure (pool-size against concurrent handoffs), not counted against the
     * backend, and so is a dial the broker could not make for want of descriptors; a failed dial
     * is, also one the deadline cut short: a backend that accepts takes microseconds.
     */
    private boolean borrow(Attempt attempt, Path endpoint, String when) {
        long started = System.nanoTime();
        try {
            attempt.hold(pool.borrow(endpoint, attempt.deadline));
            return true;
        } catch (Exception e) {
            long now = System.nanoTime();
            boolean waitedOut = now - started >= settings.pool().borrowTimeout().toNanos();
            if (e instanceof NoSuchElementException && (waitedOut || now - attempt.deadline >= 0)) {
                brokerOwnedFailure(attempt, FallbackReason.FD_PRESSURE, "no free control connection to " + endpoint
                        + when + (waitedOut ? " within the borrow timeout" : " before the ACK deadline"));
            } else if (e instanceof OutOfResourcesException) {
                // Out of descriptors ourselves: the backend is not to blame.
                brokerOwnedFailure(attempt, FallbackReason.FD_PRESSURE, "no control connection to " + endpoint + when
                        + ": " + e.getMessage());
            } else {
                failures.recordFailure(attempt.backend.label(), System.nanoTime());
                brokerOwnedFailure(attempt, FallbackReason.unreachable(e.getMessage()),
                        "no control connection to " + endpoint + when + ": " + why(e));
            }
            return false;
        }
    }

    // Some failures carry no message (a closed channel, say): their type says it then.
    private static String why(Exception e) {
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }

    /**
     * A delivery that waited in the worker queue or for a control connection until its ACK
     * deadline passed is not started: a descriptor sent now could only end ambiguous. The
     * broker still owns the client, which is told at once; the backend is not blamed.
     */
    private boolean overdue(Attempt attempt) {
        if (System.nanoTime() - attempt.deadline < 0) {
            return false;
        }
        ControlConnection borrowed = attempt.letGoIfHeld();
        if (borrowed != null) {
            pool.release(borrowed);
        }
        brokerOwnedFailure(attempt, FallbackReason.FD_PRESSURE,
                "the ACK deadline passed before the descriptor could be sent");
        return true;
    }

    private void conclude(Attempt attempt, DeliveryOutcome outcome) {
        ClientConnection client = attempt.client;
        ServiceBackend backend = attempt.backend;
        long now = System.nanoTime();
        switch (outcome.status()) {
            case ACCEPTED -> {
                PendingHandoffs.Consumption consumed = pending.consume(client.id(), attempt.token.toByteArray(), now);
                if (consumed == PendingHandoffs.Consumption.CONSUMED) {
                    ControlConnection control = attempt.letGo();
                    control.exchangeCompleted();
                    if (ControlConnectionPool.dialsForbidden()) {
                        // On the event loop, which also reads the client's next Hello: the pool has the
                        // connection back before that, so the relay need not wait for the pool. On a
                        // worker the pool comes first, or that next Hello could find it busy and dial.
                        try {
                            relay(client, attempt.token, true, "");
                        } finally {
                            pool.release(control);
                        }
                    } else {
                        pool.release(control);
                        relay(client, attempt.token, true, "");
                    }
                    client.releaseAfterHandoff("handed off to " + backend.label());
                    events.ackResult(backend, client.id(), AckResult.ACCEPTED);
                    events.handedOff(backend, client.id(), now - attempt.started);
                } else {
                    ambiguousFailure(attempt, AckResult.LATE, FallbackReason.BACKEND_ACK_TIMEOUT,
                            "ACK came after the token expired");
                }
            }
            case REFUSED -> {
                pending.revoke(client.id());
                ControlConnection control = attempt.letGo();
                control.exchangeCompleted();
                pool.release(control);
                failures.recordFailure(backend.label(), now);
                events.ackResult(backend, client.id(), AckResult.REFUSED);
                String detail = outcome.ackDetail() == null ? "" : outcome.ackDetail();
                brokerOwnedFailure(attempt, FallbackReason.BACKEND_REFUSED,
                        detail.isEmpty() ? "backend refused the handoff" : detail);
            }
            case TRANSFER_FAILED -> {
                pool.invalidate(attempt.letGo());
                failures.recordFailure(backend.label(), now);
                brokerOwnedFailure(attempt, FallbackReason.unreachable(outcome.detail()), outcome.detail());
            }
            case DEADLINE_PASSED -> {
                pending.revoke(client.id());
                failures.recordFailure(backend.label(), now);
                ControlConnection control = attempt.letGo();
                pool.quarantine(control);
                watcher.watch(control, result -> events.ackResult(backend, client.id(), result));
                silentRelease(attempt, FallbackReason.BACKEND_ACK_TIMEOUT, outcome.detail());
            }
            case OFFER_FAILED, CLOSED -> ambiguousFailure(attempt, outcome.status().ackResult(),
                    FallbackReason.BACKEND_UNAVAILABLE, outcome.detail());
            case LATE -> ambiguousFailure(attempt, AckResult.LATE, FallbackReason.BACKEND_ACK_TIMEOUT,
                    outcome.detail());
            case MALFORMED, CORRELATION_MISMATCH, TOKEN_MISMATCH -> ambiguousFailure(attempt,
                    outcome.status().ackResult(), FallbackReason.ACK_MISMATCH, outcome.detail());
        }
    }

    /** The descriptor reached the backend but the answer settles nothing: say nothing more to the client. */
    private void ambiguousFailure(Attempt attempt, AckResult ackResult, String reason, String detail) {
        pending.revoke(attempt.client.id());
        pool.invalidate(attempt.letGo());
        failures.recordFailure(attempt.backend.label(), System.nanoTime());
        if (ackResult != null) {
            events.ackResult(attempt.backend, attempt.client.id(), ackResult);
        }
        silentRelease(attempt, reason, detail);
    }

    private void silentRelease(Attempt attempt, String reason, String detail) {
        ClientConnection client = attempt.client;
        log.warn("connection {}: handoff to {} abandoned ({}): {}; ownership is ambiguous, the client falls back "
                + "after its relay wait", client.id(), attempt.backend.label(), reason, detail);
        client.releaseAfterHandoff("handoff abandoned: " + reason);
        events.fellBack(attempt.backend, client.id(), reason, detail);
    }

    /**
     * The broker still owns the client connection: tell the client at once, then close. The
     * client reads what failed; where (the handoff endpoint's path, which the socket library's
     * messages name too) is for the operator's log and events only.
     */
    private void brokerOwnedFailure(Attempt attempt, String reason, String detail) {
        ClientConnection client = attempt.client;
        pending.revoke(client.id());
        log.info("connection {}: handoff to {} failed ({}): {}; client told to reconnect", client.id(),
                attempt.backend.label(), reason, detail);
        String endpoint = attempt.backend.handoffEndpoint().map(Path::toString).orElse(null);
        relay(client, attempt.token, false,
                endpoint == null ? detail : detail.replace(endpoint, "the backend's handoff endpoint"));
        client.close("handoff failed: " + reason);
        events.fellBack(attempt.backend, client.id(), reason, detail);
    }

    /**
     * Writes the handoff-ready relay (EVENT, 0xD0FF) on the broker's copy of the
     * client connection, without ever waiting. A client that follows the protocol holds
     * at most the Negotiated reply unread, so a relay of a few dozen bytes fits; one that
     * sent data before its relay, or a backend that wrote first, can have filled the client's
     * receive queue, and then the relay is abandoned (the client's wait expires). Never a
     * blocking write: the descriptor was passed, its file status flags are shared with the
     * backend, and a backend that made it blocking would otherwise hold the event loop
     * for as long as the client does not read.
     */
    private void relay(ClientConnection client, HandoffToken token, boolean accepted, String detail) {
        HandoffAck ack = HandoffAck.newBuilder()
                .setToken(token.toByteString())
                .setAccepted(accepted)
                .setErrorDetail(detail)
                .setCorrelationId(client.id())
                .build();
        byte[] frame = FrameIO.encode(
                Envelope.frame(FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF, client.id(), ack));
        try {
            int written = writeWithoutWaiting(client, frame);
            if (written < frame.length) {
                relaysNotFitting.count(count -> log.warn("connection {}: relay did not fit the client's receive "
                        + "queue ({} of {} bytes written): the client sent data before its relay, or the backend "
                        + "wrote first ({} such relays since the last such warning)", client.id(), written,
                        frame.length, count));
            }
        } catch (IOException e) {
            log.info("connection {}: relay could not be written: {}", client.id(), e.getMessage());
        }
    }

    private static int writeWithoutWaiting(ClientConnection client, byte[] frame) throws IOException {
        if (Posix.available()) {
            return Posix.sendWithoutWaiting(client.descriptor(), frame);
        }
        // Without native calls, the channel's write: it waits if the backend made the socket blocking.
        // From an interrupted thread (a worker stopped by close(), or close() itself) it would close the
        // channel instead, and shut down a socket the backend may own by now.
        boolean interrupted = Thread.interrupted();
        try {
            ByteBuffer bytes = ByteBuffer.wrap(frame);
            client.channel().write(bytes);
            return bytes.position();
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public PendingHandoffs pending() {
        return pending;
    }

    public ControlConnectionPool pool() {
        return pool;
    }

    /**
     * One detached handoff: what its steps share, and the control connection while the
     * handoff holds it (polled or borrowed, and not yet returned, discarded or given to the
     * late-ACK watcher), so that {@link #guarded} can discard it after a bug instead of
     * leaving its pool slot taken for good.
     */
    private static final class Attempt {

        final ClientConnection client;
        final ServiceBackend backend;
        final HandoffToken token;
        final long deadline;
        final long started;
        // One thread at a time: the steps run in sequence, handed on by the loop or the worker queue.
        private @Nullable ControlConnection control;

        Attempt(ClientConnection client, ServiceBackend backend, HandoffToken token, long deadline, long started) {
            this.client = client;
            this.backend = backend;
            this.token = token;
            this.deadline = deadline;
            this.started = started;
        }

        ControlConnection hold(ControlConnection connection) {
            control = connection;
            return connection;
        }

        ControlConnection held() {
            return Objects.requireNonNull(control, "no control connection held");
        }

        /** The held connection, which the caller now hands on (to the pool or the watcher). */
        ControlConnection letGo() {
            return Objects.requireNonNull(letGoIfHeld(), "no control connection held");
        }

        @Nullable ControlConnection letGoIfHeld() {
            ControlConnection held = control;
            control = null;
            return held;
        }
    }

    @Override
    public void close() {
        close(System.nanoTime());
    }

    /**
     * Stops the workers, the late-ACK watcher and the pool. The workers get until {@code ack-deadline}
     * + 1 s after {@code stoppedTakingWorkNanos} (when the broker stopped starting handoffs: the drain's
     * start) to finish what they carry, so that the wait overlaps the drain's grace period instead of
     * following it; deliveries they have not started by then get a refused relay.
     */
    public void close(long stoppedTakingWorkNanos) {
        workers.shutdown();
        long waitNanos = stoppedTakingWorkNanos + settings.ackDeadline().toNanos()
                + TimeUnit.SECONDS.toNanos(1) - System.nanoTime();
        try {
            if (!workers.awaitTermination(Math.max(0, waitNanos), TimeUnit.NANOSECONDS)) {
                abandonQueued(workers.shutdownNow());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abandonQueued(workers.shutdownNow());
        }
        watcher.close();
        pool.close();
    }

    // Deliveries the workers will never start: nothing was sent, so their clients are told at once.
    private void abandonQueued(List<Runnable> neverStarted) {
        for (Runnable task : neverStarted) {
            if (task instanceof QueuedDelivery waiting) {
                brokerOwnedFailure(waiting.attempt, FallbackReason.FD_PRESSURE,
                        "the broker stopped before the descriptor could be sent");
            }
        }
    }
}
