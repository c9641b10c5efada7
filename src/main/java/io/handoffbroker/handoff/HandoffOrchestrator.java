package io.handoffbroker.handoff;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.server.ClientConnection;
import io.handoffbroker.server.ConnectionRouter;
import io.handoffbroker.server.HelloReplies;
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
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
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
 * endpoint answered its last probe ({@code backend_unavailable}), the backend's
 * recent failures under the limit ({@code rate_limited}), a free token slot
 * ({@code fd_pressure}). An ineligible client gets {@code Negotiated} without a
 * token and reconnects. An eligible one gets {@code Negotiated} with the token; the
 * connection is then detached and the delivery continues on a worker.
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
    private final Predicate<ServiceBackend> handoffEndpointUp;
    private final HandoffEvents events;
    private final ExecutorService workers;

    public HandoffOrchestrator(HandoffSettings settings, HelloReplies replies, PendingHandoffs pending,
            ControlConnectionPool pool, WireHandoffDelivery delivery, LateAckWatcher watcher,
            FailedAttemptLimiter failures, Predicate<ServiceBackend> handoffEndpointUp, HandoffEvents events,
            ExecutorService workers) {
        this.settings = settings;
        this.replies = replies;
        this.pending = pending;
        this.pool = pool;
        this.delivery = delivery;
        this.watcher = watcher;
        this.failures = failures;
        this.handoffEndpointUp = handoffEndpointUp;
        this.events = events;
        this.workers = workers;
    }

    /**
     * The production assembly: one pool with an entry per handoff endpoint of the
     * services that accept handoffs, a bounded worker pool (its queue holds at most
     * {@code max-pending-tokens} deliveries), the pending-token store, the late-ACK
     * watcher and the failed-attempt limiter, all sized from {@code settings}.
     *
     * @param handoffEndpointUp false when the endpoint failed its last probe
     */
    public static HandoffOrchestrator create(HandoffSettings settings, HelloReplies replies,
            Collection<ServiceBackend> services, Predicate<ServiceBackend> handoffEndpointUp, HandoffEvents events)
            throws IOException {
        ControlConnectionPool pool = new ControlConnectionPool(settings.pool());
        if (settings.enabled()) {
            for (ServiceBackend backend : services) {
                if (backend.acceptsHandoffs()) {
                    backend.handoffEndpoint().ifPresent(pool::register);
                }
            }
        }
        ThreadPoolExecutor workers = new ThreadPoolExecutor(settings.workers(), settings.workers(), 30,
                TimeUnit.SECONDS, new ArrayBlockingQueue<>(settings.maxPendingTokens()),
                Thread.ofPlatform().name("broker-handoff-", 0).daemon(true).factory());
        workers.allowCoreThreadTimeOut(true);
        return new HandoffOrchestrator(settings, replies,
                new PendingHandoffs(new SecureRandom(), settings.maxPendingTokens(), settings.tokenTtl().toNanos()),
                pool, new WireHandoffDelivery(),
                new LateAckWatcher(settings.ackGracePeriod().toNanos(), AFUNIXSelectorProvider.provider().openSelector()),
                new FailedAttemptLimiter(settings.failedAttemptLimit(), settings.failedAttemptWindow().toNanos()),
                handoffEndpointUp, events, workers);
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
            events.fellBack(backend, connection.id(), ineligible, "handoff not attempted");
            connection.reply(replies.negotiated(decision, connection.id(), null), decision,
                    ClientConnection.CLOSE_AFTER_REPLY);
            return;
        }
        HandoffToken issued = token.get();
        connection.reply(replies.negotiated(decision, connection.id(), issued), decision, written -> {
            written.detach();
            onLoop(written, backend, issued, () -> offerOnLoop(written, backend, issued, deadline, now));
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
        if (!handoffEndpointUp.test(backend)) {
            return FallbackReason.BACKEND_UNAVAILABLE;
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
    private void offerOnLoop(ClientConnection client, ServiceBackend backend, HandoffToken token, long deadline,
            long started) {
        ControlConnection control = pool.pollIdle(backend.handoffEndpoint().orElseThrow());
        if (control == null) {
            deliverOnWorker(client, backend, token, deadline, started);
            return;
        }
        DeliveryOutcome failed;
        try {
            // Bounded far below the ACK deadline: the loop must never wait for a send buffer.
            long sendDeadline = Math.min(deadline, System.nanoTime() + LOOP_SEND_BUDGET_NANOS);
            failed = delivery.offer(control, client.channel().getFileDescriptor(), token, backend.name(),
                    client.id(), sendDeadline);
        } catch (IOException e) {
            failed = new DeliveryOutcome(DeliveryOutcome.Status.TRANSFER_FAILED, false,
                    "client descriptor unavailable: " + e.getMessage(), null);
        }
        if (failed == null) {
            awaitAckOnLoop(client, backend, token, control, deadline, started);
        } else if (failed.status() == DeliveryOutcome.Status.TRANSFER_FAILED) {
            // Nothing went out; the backend may have closed this pooled connection since its validation.
            pool.invalidate(control);
            deliverOnWorker(client, backend, token, deadline, started);
        } else {
            conclude(client, backend, token, control, failed, started);
        }
    }

    private void awaitAckOnLoop(ClientConnection client, ServiceBackend backend, HandoffToken token,
            ControlConnection control, long deadline, long started) {
        client.reactor().awaitReadable(control.channel(), deadline, () -> onLoop(client, backend, token, () -> {
            DeliveryOutcome outcome = delivery.readAck(control, token, client.id(), deadline);
            if (outcome == null) {
                awaitAckOnLoop(client, backend, token, control, deadline, started); // part of the ACK so far
            } else {
                conclude(client, backend, token, control, outcome, started);
            }
        }), () -> onLoop(client, backend, token,
                () -> conclude(client, backend, token, control, WireHandoffDelivery.deadlinePassed(), started)));
    }

    private void deliverOnWorker(ClientConnection client, ServiceBackend backend, HandoffToken token, long deadline,
            long started) {
        try {
            workers.execute(() -> guarded(client, backend, token,
                    () -> deliver(client, backend, token, deadline, started)));
        } catch (RejectedExecutionException full) {
            brokerOwnedFailure(client, backend, token, FallbackReason.FD_PRESSURE, "broker is overloaded");
        }
    }

    /** A step on the event loop: guarded, and the pool may not dial on this thread meanwhile. */
    private void onLoop(ClientConnection client, ServiceBackend backend, HandoffToken token, Runnable step) {
        ControlConnectionPool.withoutDialling(() -> guarded(client, backend, token, step));
    }

    /**
     * Runs a step of a detached handoff; a bug in it must not leave the connection, its
     * slot or its token behind. Nothing is known about where the descriptor got to, so the
     * broker's copy is released without shutdown and nothing more is written to the client,
     * which falls back when its relay wait ends.
     */
    private void guarded(ClientConnection client, ServiceBackend backend, HandoffToken token, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException bug) {
            log.error("connection {}: handoff to {} failed unexpectedly", client.id(), backend.label(), bug);
            pending.revoke(client.id());
            if (!client.isClosed()) {
                client.releaseAfterHandoff("internal error");
                events.fellBack(backend, client.id(), FallbackReason.BACKEND_UNAVAILABLE,
                        "internal error: " + bug);
            }
        }
    }

    /** Worker thread: one delivery and its consequences. */
    void deliver(ClientConnection client, ServiceBackend backend, HandoffToken token, long deadline, long started) {
        Path endpoint = backend.handoffEndpoint().orElseThrow();
        if (overdue(client, backend, token, deadline, null)) {
            return;
        }
        FileDescriptor descriptor;
        ControlConnection control;
        try {
            descriptor = client.channel().getFileDescriptor();
            control = pool.borrow(endpoint);
        } catch (Exception e) {
            failures.recordFailure(backend.label(), System.nanoTime());
            brokerOwnedFailure(client, backend, token, FallbackReason.BACKEND_UNAVAILABLE,
                    "no control connection to " + endpoint + ": " + e.getMessage());
            return;
        }
        if (overdue(client, backend, token, deadline, control)) {
            return;
        }
        DeliveryOutcome outcome = delivery.deliver(control, descriptor, token, backend.name(), client.id(), deadline);
        if (outcome.status() == DeliveryOutcome.Status.TRANSFER_FAILED && control.exchanges() > 0) {
            // A pooled connection the backend closed since its validation: nothing went out, so try once fresh.
            pool.invalidate(control);
            try {
                control = pool.borrow(endpoint);
            } catch (Exception e) {
                failures.recordFailure(backend.label(), System.nanoTime());
                brokerOwnedFailure(client, backend, token, FallbackReason.BACKEND_UNAVAILABLE, outcome.detail());
                return;
            }
            outcome = delivery.deliver(control, descriptor, token, backend.name(), client.id(), deadline);
        }
        conclude(client, backend, token, control, outcome, started);
    }

    /**
     * A delivery that waited in the worker queue or for a control connection until its ACK
     * deadline passed is not started: a descriptor sent now could only end ambiguous. The
     * broker still owns the client, which is told at once; the backend is not blamed.
     */
    private boolean overdue(ClientConnection client, ServiceBackend backend, HandoffToken token, long deadline,
            @Nullable ControlConnection borrowed) {
        if (System.nanoTime() - deadline < 0) {
            return false;
        }
        if (borrowed != null) {
            pool.release(borrowed);
        }
        brokerOwnedFailure(client, backend, token, FallbackReason.FD_PRESSURE,
                "the ACK deadline passed before the descriptor could be sent");
        return true;
    }

    private void conclude(ClientConnection client, ServiceBackend backend, HandoffToken token,
            ControlConnection control, DeliveryOutcome outcome, long started) {
        long now = System.nanoTime();
        switch (outcome.status()) {
            case ACCEPTED -> {
                PendingHandoffs.Consumption consumed = pending.consume(client.id(), token.toByteArray(), now);
                if (consumed == PendingHandoffs.Consumption.CONSUMED) {
                    // Back in the pool before the relay: the client's next Hello must find it idle,
                    // or a handoff concluded on a worker would make the next one dial.
                    control.exchangeCompleted();
                    pool.release(control);
                    relay(client, token, true, "");
                    client.releaseAfterHandoff("handed off to " + backend.label());
                    events.ackResult(backend, client.id(), AckResult.ACCEPTED);
                    events.handedOff(backend, client.id(), now - started);
                } else {
                    ambiguousFailure(client, backend, token, control, AckResult.LATE,
                            FallbackReason.BACKEND_ACK_TIMEOUT, "ACK came after the token expired");
                }
            }
            case REFUSED -> {
                pending.revoke(client.id());
                control.exchangeCompleted();
                pool.release(control);
                failures.recordFailure(backend.label(), now);
                events.ackResult(backend, client.id(), AckResult.REFUSED);
                String detail = outcome.ackDetail() == null ? "" : outcome.ackDetail();
                brokerOwnedFailure(client, backend, token, FallbackReason.BACKEND_REFUSED,
                        detail.isEmpty() ? "backend refused the handoff" : detail);
            }
            case TRANSFER_FAILED -> {
                pool.invalidate(control);
                failures.recordFailure(backend.label(), now);
                String reason = outcome.detail().contains("ermission") ? FallbackReason.PERMISSION_DENIED
                        : FallbackReason.BACKEND_UNAVAILABLE;
                brokerOwnedFailure(client, backend, token, reason, outcome.detail());
            }
            case DEADLINE_PASSED -> {
                pending.revoke(client.id());
                failures.recordFailure(backend.label(), now);
                pool.quarantine(control);
                watcher.watch(control, result -> events.ackResult(backend, client.id(), result));
                silentRelease(client, backend, FallbackReason.BACKEND_ACK_TIMEOUT, outcome.detail());
            }
            case OFFER_FAILED, CLOSED -> ambiguousFailure(client, backend, token, control,
                    outcome.status().ackResult(), FallbackReason.BACKEND_UNAVAILABLE, outcome.detail());
            case LATE -> ambiguousFailure(client, backend, token, control, AckResult.LATE,
                    FallbackReason.BACKEND_ACK_TIMEOUT, outcome.detail());
            case MALFORMED, CORRELATION_MISMATCH, TOKEN_MISMATCH -> ambiguousFailure(client, backend, token, control,
                    outcome.status().ackResult(), FallbackReason.ACK_MISMATCH, outcome.detail());
        }
    }

    /** The descriptor reached the backend but the answer settles nothing: say nothing more to the client. */
    private void ambiguousFailure(ClientConnection client, ServiceBackend backend, HandoffToken token,
            ControlConnection control, AckResult ackResult, String reason, String detail) {
        pending.revoke(client.id());
        pool.invalidate(control);
        failures.recordFailure(backend.label(), System.nanoTime());
        if (ackResult != null) {
            events.ackResult(backend, client.id(), ackResult);
        }
        silentRelease(client, backend, reason, detail);
    }

    private void silentRelease(ClientConnection client, ServiceBackend backend, String reason, String detail) {
        log.warn("connection {}: handoff to {} abandoned ({}): {}; ownership is ambiguous, the client falls back "
                + "after its relay wait", client.id(), backend.label(), reason, detail);
        client.releaseAfterHandoff("handoff abandoned: " + reason);
        events.fellBack(backend, client.id(), reason, detail);
    }

    /** The broker still owns the client connection: tell the client at once, then close. */
    private void brokerOwnedFailure(ClientConnection client, ServiceBackend backend, HandoffToken token,
            String reason, String detail) {
        pending.revoke(client.id());
        log.info("connection {}: handoff to {} failed ({}): {}; client told to reconnect", client.id(),
                backend.label(), reason, detail);
        relay(client, token, false, detail);
        client.close("handoff failed: " + reason);
        events.fellBack(backend, client.id(), reason, detail);
    }

    /**
     * Writes the handoff-ready relay (EVENT, 0xD0FF) on the broker's copy of the
     * client connection. The connection is non-blocking and holds at most the
     * Negotiated reply the client is reading, so a relay of a few dozen bytes fits;
     * if it did not, the relay is abandoned and the client's wait expires.
     */
    private void relay(ClientConnection client, HandoffToken token, boolean accepted, String detail) {
        HandoffAck ack = HandoffAck.newBuilder()
                .setToken(token.toByteString())
                .setAccepted(accepted)
                .setErrorDetail(detail)
                .setCorrelationId(client.id())
                .build();
        ByteBuffer bytes = ByteBuffer.wrap(FrameIO.encode(
                Envelope.frame(FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF, client.id(), ack)));
        try {
            client.channel().write(bytes);
            if (bytes.hasRemaining()) {
                log.warn("connection {}: relay did not fit the socket buffer ({} of {} bytes written)", client.id(),
                        bytes.position(), bytes.capacity());
            }
        } catch (IOException e) {
            log.info("connection {}: relay could not be written: {}", client.id(), e.toString());
        }
    }

    public PendingHandoffs pending() {
        return pending;
    }

    public ControlConnectionPool pool() {
        return pool;
    }

    @Override
    public void close() {
        workers.shutdown();
        try {
            if (!workers.awaitTermination(settings.ackDeadline().toMillis() + 1_000, TimeUnit.MILLISECONDS)) {
                workers.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            workers.shutdownNow();
        }
        watcher.close();
        pool.close();
    }
}
