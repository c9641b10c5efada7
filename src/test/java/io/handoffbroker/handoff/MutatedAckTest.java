package io.handoffbroker.handoff;

import static io.handoffbroker.testing.ByteMutations.concat;
import static io.handoffbroker.testing.ByteMutations.flipBits;
import static io.handoffbroker.testing.ByteMutations.hex;
import static io.handoffbroker.testing.ByteMutations.overwriteBytes;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.handoffbroker.handoff.ScriptedHandoffBackend.Exchange;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.observability.BrokerMetrics;
import io.handoffbroker.testing.CaseFailures;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.PrometheusSamples;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.wire.FrameLimit;
import io.handoffbroker.wire.FrameTooLongException;
import io.handoffbroker.wire.IncompleteFrameException;
import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.HandoffAck;
import io.handoffbroker.wire.proto.HandoffOffer;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import io.handoffbroker.wire.proto.Negotiated;
import io.handoffbroker.wire.proto.PayloadEncoding;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A seeded mutation test of the broker's side of the handoff: a real broker offers real client
 * connections, passed by SCM_RIGHTS, to a {@link ScriptedHandoffBackend} that answers each offer
 * with an ACK made at random from one seed: bits flipped and bytes overwritten in the ACK frame,
 * the frame cut short and the connection closed, a wrong length prefix, bytes after the ACK, a
 * second ACK, an ACK for another token, another correlation id or request id, a wrong envelope,
 * an explicit refusal with and without a detail, an ACK after the deadline, and no ACK at all (a
 * hang-up, or silence past the deadline).
 *
 * <p>What each case is owed is worked out from the bytes the backend sent, read with the
 * project's own decoder and judged by protocol section 3 and docs/handoff.md, never from the
 * mutation's name. A client that asked for the handoff reads its {@code Negotiated}, then:
 * <ul>
 *   <li>for a timely, well-formed ACK with both ids and the token echoed, accepting: the accepted
 *       relay, and what the client writes next is read from the descriptor the backend received;</li>
 *   <li>the same, refusing: the refused relay, carrying the backend's detail made printable, and
 *       the end (the broker still owned the connection);</li>
 *   <li>anything else (malformed, mismatched, cut short, closed, late, missing): nothing more; the
 *       broker lets its copy go, so the connection ends as soon as the backend's copy is closed.</li>
 * </ul>
 * Every handoff ends in exactly the one ACK result and fallback reason the docs give, within the
 * ACK deadline, the grace period and a margin, and the Prometheus counters of ACK results,
 * fallback reasons and routes add up to what the cases called for. A control connection whose
 * stream the exchange left out of step (anything but a clean acceptance or refusal) is closed by
 * the broker, unless the backend closed it first, and never carries another offer. A backend
 * that hangs up right after a clean verdict can lose the next offer, sent on that connection
 * before the hang-up reached the broker: that client is owed a missing ACK and nothing more, and
 * another client plays the case. Afterwards a
 * valid handoff still works, no token is pending, no client connection is open, and this process
 * has no more descriptors open than before the cases.
 *
 * <p>The seed is {@value #SEED_PROPERTY}, the number of cases {@value #CASES_PROPERTY} (a long run
 * needs JUnit's time-outs off: {@code junit.jupiter.execution.timeout.mode=disabled}); one case alone
 * is played with {@value #CASE_PROPERTY}. Every failure names the seed and the case. The seed fixes
 * the damage, not every byte: the ACK carries the broker's connection id and a fresh token.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class MutatedAckTest {

    static final String SEED_PROPERTY = "handoffbroker.mutated-ack.seed";
    static final String CASES_PROPERTY = "handoffbroker.mutated-ack.cases";
    static final String CASE_PROPERTY = "handoffbroker.mutated-ack.case";
    private static final long DEFAULT_SEED = 0xAC4_5EEDL;
    private static final int DEFAULT_CASES = 300;

    // An ACK sent at once meets it with room to spare on a loaded machine; the cases that wait it
    // out do so side by side.
    private static final Duration ACK_DEADLINE = Duration.ofMillis(1500);
    private static final Duration GRACE = Duration.ofMillis(2500);
    // Slack for a loaded 2-CPU machine on top of every protocol bound: it bounds a hang, it
    // measures no speed.
    private static final Duration MARGIN = Duration.ofSeconds(4);
    private static final int IN_FLIGHT = 16;
    // Dialled ahead and refilled at every maintenance run, so that handoffs keep taking the event
    // loop's way (an idle pooled control connection) even once the pool stops reusing connections.
    private static final int MIN_IDLE = 8;
    private static final Duration MAINTENANCE = Duration.ofMillis(25);

    private static final String METRICS = "running_process_broker_v1_";
    private static final byte[] NOTHING = new byte[0];
    private static final Hello HELLO = RawClient.hello(HandoffFixture.SERVICE, HandoffFixture.VERSION).toBuilder()
            .setClientCapabilities(WireProtocol.CAP_HANDLE_PASSING).build();

    @TempDir
    Path dir;

    private final Queue<Case> unplayed = new ConcurrentLinkedQueue<>();
    private final Queue<Case> outOfStepAfterAClearVerdict = new ConcurrentLinkedQueue<>();
    private final Map<Long, CompletableFuture<Assigned>> assignments = new ConcurrentHashMap<>();
    private final AtomicInteger unassignedFailures = new AtomicInteger();
    private final AtomicInteger hangUpsAfterAClearVerdict = new AtomicInteger();
    private final Queue<Long> offersLostToAHangUp = new ConcurrentLinkedQueue<>();
    private final AtomicLong requests = new AtomicLong();
    private volatile long seed;
    private volatile HandoffFixture broker;
    private volatile ScriptedHandoffBackend backend;

    @Test
    void everyMutatedAckEndsAsItsBytesRequireAndNothingIsLeftOpen() throws Exception {
        seed = Long.getLong(SEED_PROPERTY, DEFAULT_SEED);
        Integer only = Integer.getInteger(CASE_PROPERTY);
        List<Case> cases = only != null ? List.of(Case.generate(seed, only))
                : IntStream.range(0, Integer.getInteger(CASES_PROPERTY, DEFAULT_CASES))
                        .mapToObj(i -> Case.generate(seed, i)).toList();
        Path endpoint = dir.resolve("h").resolve("ho.sock");
        ServiceBackend service = HandoffFixture.handoffService(dir.resolve("b").resolve("pipe.sock"), endpoint);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        BrokerMetrics metrics = new BrokerMetrics(registry, new ServiceCatalog(List.of(service)));
        try (ScriptedHandoffBackend scripted = new ScriptedHandoffBackend(endpoint).byDefault(this::playNextCase)
                        .start();
                HandoffFixture fixture = new HandoffFixture(dir).service(service).ackDeadline(ACK_DEADLINE)
                        .ackGrace(GRACE).workers(IN_FLIGHT)
                        // Room for every case in flight and the connections being discarded meanwhile:
                        // no delivery waits for a worker or a control connection.
                        .pool(new PoolSettings(2 * IN_FLIGHT, MIN_IDLE, ACK_DEADLINE, ACK_DEADLINE, MAINTENANCE))
                        // Most cases are failures the backend is to blame for: none may be skipped for it.
                        .failedAttempts(Integer.MAX_VALUE, Duration.ofMinutes(1)).alsoReportTo(metrics).start()) {
            backend = scripted;
            broker = fixture;
            // A handoff before the baseline, so that whatever the first one opens for good is open for
            // it; one whose ACK the broker rejects, so that its control connection is discarded: one
            // returned to the pool, then found closed by the backend's stop below, would have the pool
            // reuse no connection for a minute (docs/handoff.md, the pool).
            unplayed.add(Case.WARM_UP);
            Played warmUp = Objects.requireNonNull(playOne(), "the warm-up's offer");
            // The backend's thread learns that the broker closed that control connection only when it
            // reads again, which a loaded machine can put off past the client's end: the backend's stop
            // below must not close the connection before that read, or it would look closed by the backend.
            assertThat(RecordingHandoffEvents.awaitTrue(() -> backend.endedByBroker(warmUp.control()),
                    ACK_DEADLINE.plus(GRACE).plus(MARGIN)))
                    .as("seed %d: the broker closed the control connection the warm-up left out of step", seed)
                    .isTrue();
            List<Played> played = new ArrayList<>(List.of(warmUp));
            closeEveryControlConnection(endpoint);
            OpenDescriptors.Snapshot baseline = OpenDescriptors.stable(Duration.ofMillis(150), Duration.ofSeconds(3));
            backend.start();

            unplayed.addAll(cases);
            List<Played> cased = playAll(cases.size());
            played.addAll(cased);
            int reused = checkWhatFollowedTheVerdicts(played);
            if (cases.size() >= 100) {
                // A mistake in this test's reading of the bytes could make most cases owe one result,
                // and one in its set-up could keep the pool from reusing any connection.
                assertThat(cased.stream().map(p -> p.assigned().expected().result()).distinct())
                        .as("seed %d: the ACK results the cases called for", seed)
                        .containsExactlyInAnyOrder(AckResult.values());
                assertThat(reused).as("seed %d: offers on a control connection used before", seed).isPositive();
            }

            broker.assertHandsOff("seed " + seed + ", after the cases", ACK_DEADLINE.plus(MARGIN));
            assertThat(RecordingHandoffEvents.awaitTrue(() -> fixture.orchestrator().pending().size() == 0
                    && fixture.broker().server().openConnections() == 0, MARGIN))
                    .as("seed %d: no token pending (%d), no client connection open (%d)", seed,
                            fixture.orchestrator().pending().size(), fixture.broker().server().openConnections())
                    .isTrue();
            checkCounters(registry, played, 1, offersLostToAHangUp.size());
            closeEveryControlConnection(endpoint);
            try {
                OpenDescriptors.awaitAtMost(baseline, MARGIN);
            } catch (AssertionError leak) {
                throw new AssertionError("seed " + seed + ", after the cases: " + leak.getMessage(), leak);
            }
        }
    }

    // ---- the backend's side ----

    /**
     * The backend's answer to every offer: the next case's script. The case is chosen here, on
     * the backend's thread, so that its ACK goes out as soon as the offer is read, whatever the
     * client's thread is doing: only the broker's deadline decides what is late. Offers outside
     * the cases are accepted and served.
     */
    private void playNextCase(Exchange exchange) throws IOException {
        long id = exchange.offer.getCorrelationId();
        ByteString token = exchange.offer.getToken();
        Case c = nextCase(id, token);
        if (c == null) {
            ScriptedHandoffBackend.acceptAndEcho().act(exchange);
            return;
        }
        Script script = c.script(id, token);
        // Taken from the backend, which would hold it: the case reads from it and closes it.
        FileDescriptor passed = exchange.descriptors.isEmpty() ? null : exchange.descriptors.removeFirst();
        if (!assignment(id).complete(new Assigned(c, script, expected(script, id, token), exchange, passed))) {
            // Its client gave up waiting (and failed the run): nobody else would close the descriptor.
            if (passed != null) {
                Descriptors.closeReceivedQuietly(passed);
            }
            return;
        }
        if (script.passesBack() && passed != null) {
            // The client's connection handed back with the ACK: the broker must not keep it, or the
            // connection would not end when the backend lets go.
            exchange.control.setOutboundFileDescriptors(passed);
        }
        send(exchange, script.now(), script.chunk());
        if (script.closeNow()) {
            exchange.closeControl();
            return;
        }
        if (script.late().length > 0 || script.closeLate()) {
            // Once the broker gave the handoff up, not after a delay of this test's choosing: late by
            // construction, however slow the machine.
            if (broker.events().awaitEvent(id, "fallback", ACK_DEADLINE.plus(MARGIN)) == null) {
                return; // the client's side reports what happened instead
            }
            if (script.late().length > 0) {
                exchange.write(script.late());
            }
            if (script.closeLate()) {
                exchange.closeControl();
            }
        }
    }

    /**
     * The case to play on the offer for {@code id}, null when every case was played. The cases
     * whose clean acceptance or refusal leaves bytes or a hang-up behind come last: once the pool
     * finds such a connection, it reuses none for a minute (docs/handoff.md, the pool), and the
     * cases before them are to meet reused connections, and the rule that those are in step.
     */
    private @Nullable Case nextCase(long id, ByteString token) {
        Case c;
        while ((c = unplayed.poll()) != null) {
            Expected owed = expected(c.script(id, token), id, token);
            if (owed instanceof Ambiguous || owed.inStep()) {
                return c;
            }
            outOfStepAfterAClearVerdict.add(c);
        }
        c = outOfStepAfterAClearVerdict.poll();
        if (c != null) {
            hangUpsAfterAClearVerdict.incrementAndGet();
        }
        return c;
    }

    /** Writes {@code bytes} at once, or {@code chunk} bytes at a time: the broker then reads a frame in parts. */
    private static void send(Exchange exchange, byte[] bytes, int chunk) throws IOException {
        if (chunk == 0) {
            if (bytes.length > 0) {
                exchange.write(bytes);
            }
            return;
        }
        for (int at = 0; at < bytes.length; at += chunk) {
            exchange.write(Arrays.copyOfRange(bytes, at, Math.min(bytes.length, at + chunk)));
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted between two parts of an ACK");
            }
        }
    }

    private CompletableFuture<Assigned> assignment(long connectionId) {
        return assignments.computeIfAbsent(connectionId, id -> new CompletableFuture<>());
    }

    // ---- the clients' side ----

    /** One client per case, {@link #IN_FLIGHT} at a time; fails naming every case that failed. */
    private List<Played> playAll(int cases) {
        List<Played> played = new CopyOnWriteArrayList<>();
        CaseFailures failures = new CaseFailures();
        try (ExecutorService clients = Executors.newFixedThreadPool(IN_FLIGHT)) {
            for (int i = 0; i < cases; i++) {
                clients.execute(() -> {
                    try {
                        // A client whose offer was lost to a hang-up played no case: another plays it.
                        Played one = playOne();
                        for (int lost = 1; one == null && lost < 3; lost++) {
                            one = playOne();
                        }
                        if (one == null) {
                            throw new CaseFailed(Integer.MAX_VALUE - unassignedFailures.incrementAndGet(), "seed "
                                    + seed + ": three offers in a row lost to a hang-up", null);
                        }
                        played.add(one);
                    } catch (CaseFailed failed) {
                        failures.add(failed.index, failed);
                    }
                });
            }
        }
        failures.throwIfAny(cases);
        return played;
    }

    /** A case's failure, keyed by its index (past the last case for a client the backend never saw). */
    private static final class CaseFailed extends AssertionError {

        final int index;

        CaseFailed(int index, String message, Throwable cause) {
            super(message, cause);
            this.index = index;
        }
    }

    /**
     * A client asks for the handoff, learns which case the backend played on its connection, and
     * checks what it reads; what is only settled later (the ACK result, the control connection) is
     * left to {@link #checkWhatFollowedTheVerdicts}. Null when the offer was lost to a hang-up
     * ({@link #checkOfferLostToAHangUp}): no case was played.
     */
    private @Nullable Played playOne() {
        Assigned assigned = null;
        try (RawClient client = RawClient.connect(broker.socketPath(), ACK_DEADLINE.plus(MARGIN))) {
            long requestId = requests.incrementAndGet();
            client.send(RawClient.helloFrame(HELLO, requestId));
            Frame reply = client.readFrame();
            long negotiatedAt = System.nanoTime();
            Negotiated negotiated = handoffNegotiated(reply, requestId);
            assigned = awaitAssigned(negotiated.getConnectionId());
            if (assigned == null) {
                checkOfferLostToAHangUp(negotiated.getConnectionId(), client);
                return null;
            }
            checkClientSide(assigned, negotiated, client);
            return new Played(assigned, negotiatedAt);
        } catch (AssertionError | Exception e) {
            if (assigned == null) {
                throw new CaseFailed(Integer.MAX_VALUE - unassignedFailures.incrementAndGet(),
                        "seed " + seed + ", a client given no case: " + e, e);
            }
            throw new CaseFailed(assigned.c().index(), assigned.describe(seed) + ": " + e, e);
        } finally {
            if (assigned != null) {
                assigned.closeBackendCopy();
            }
        }
    }

    /** The reply to a Hello that asks for the handoff of a service that has it: a Negotiated with a token. */
    private static Negotiated handoffNegotiated(Frame reply, long requestId) throws IOException {
        Envelope.validate(reply, FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_CONTROL);
        HelloReply helloReply = Envelope.payload(reply, HelloReply.parser(), "HelloReply");
        assertThat(helloReply.hasNegotiated()).as("negotiated: %s", helloReply).isTrue();
        assertThat(reply.getRequestId()).as("the Hello's request_id echoed").isEqualTo(requestId);
        Negotiated negotiated = helloReply.getNegotiated();
        assertThat(negotiated.getServerCapabilities() & WireProtocol.CAP_HANDLE_PASSING)
                .as("a handoff announced: %s", negotiated).isEqualTo(WireProtocol.CAP_HANDLE_PASSING);
        assertThat(negotiated.getHandlePassedToken().size()).as("token length").isEqualTo(16);
        assertThat(negotiated.getConnectionId()).as("connection_id").isNotZero();
        return negotiated;
    }

    /** The case the backend played on the connection's offer, null when no offer reached it in time. */
    private @Nullable Assigned awaitAssigned(long connectionId) throws InterruptedException, ExecutionException {
        try {
            return assignment(connectionId).get(ACK_DEADLINE.plus(MARGIN).toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            assignment(connectionId).cancel(false); // an offer that comes after all closes its own descriptor
            return null;
        }
    }

    /**
     * An offer that never reached the backend's script. Allowed only once a case that hangs up
     * right after its clean verdict was played: the broker, which put that control connection
     * back in step, can send the next offer on it before the hang-up reaches it. The offer is
     * then sent and never read; to the broker the backend closed without an ACK, so ownership is
     * ambiguous (protocol section 3): a missing ACK, backend_unavailable, nothing more to the
     * client, whose connection ends as the backend's unread copy goes with the control connection.
     */
    private void checkOfferLostToAHangUp(long id, RawClient client) throws IOException {
        String noOffer = "no offer for connection " + id + " reached the backend within "
                + ACK_DEADLINE.plus(MARGIN).toMillis() + " ms";
        assertThat(hangUpsAfterAClearVerdict.get()).as("%s, and no backend had hung up after a clean verdict",
                noOffer).isPositive();
        RecordingHandoffEvents events = broker.events();
        assertThat(awaitVerdict(id)).as("%s: the broker's verdict; events %s", noOffer, events.of(id))
                .isEqualTo("fallback");
        assertThat(events.fallbackReasonsOf(id)).as("%s: fallback reasons", noOffer)
                .containsExactly(FallbackReason.BACKEND_UNAVAILABLE);
        assertThat(events.ackResultsOf(id)).as("%s: ACK results", noOffer).containsExactly(AckResult.MISSING);
        try {
            assertThat(client.socket().getInputStream().readAllBytes()).as("%s: what the broker wrote after the"
                    + " Negotiated", noOffer).isEmpty();
        } catch (SocketTimeoutException stillOpen) {
            throw new AssertionError(noOffer + ": the client's connection did not end", stillOpen);
        }
        offersLostToAHangUp.add(id);
    }

    private void checkClientSide(Assigned assigned, Negotiated negotiated, RawClient client) throws Exception {
        long id = negotiated.getConnectionId();
        ByteString token = negotiated.getHandlePassedToken();
        Exchange offered = assigned.exchange();
        // The offer is the one the Negotiated announced: its token with one descriptor, then the frame.
        assertThat(ByteString.copyFrom(offered.tokenBytes)).as("the token sent with the descriptor").isEqualTo(token);
        assertThat(offered.descriptorCount).as("descriptors sent with the token").isEqualTo(1);
        assertThat(offered.frame.getRequestId()).as("the offer frame's request_id").isEqualTo(id);
        assertThat(offered.offer).as("the offer").isEqualTo(HandoffOffer.newBuilder().setToken(token)
                .setServiceName(HandoffFixture.SERVICE).setCorrelationId(id).build());

        String verdict = awaitVerdict(id);
        InputStream fromBroker = client.socket().getInputStream();
        if (assigned.expected() instanceof HandedOff) {
            assertThat(verdict).as("the broker's verdict; events %s", broker.events().of(id)).isEqualTo("handed_off");
            assertThat(FrameIO.read(fromBroker, FrameLimit.HANDOFF)).as("the relay")
                    .isEqualTo(relay(id, token, true, ""));
            byte[] request = ("case " + assigned.c().index()).getBytes(StandardCharsets.US_ASCII);
            client.send(request);
            assertThat(readPassed(assigned.passed(), request.length))
                    .as("what the client wrote, read from the descriptor the backend received").isEqualTo(request);
        } else {
            assertThat(verdict).as("the broker's verdict; events %s", broker.events().of(id)).isEqualTo("fallback");
        }
        // The backend lets go; the client sees the end only if the broker let go of its copy too.
        assigned.closeBackendCopy();
        byte[] rest;
        try {
            rest = fromBroker.readAllBytes();
        } catch (SocketTimeoutException stillOpen) {
            throw new AssertionError("the client's connection did not end once the backend's copy was closed: the"
                    + " broker still holds one", stillOpen);
        }
        if (assigned.expected() instanceof Refusal refusal) {
            checkRefusedRelay(rest, refusal, id, token);
        } else {
            assertThat(rest).as("what the broker wrote after the %s: %s",
                    verdict.equals("handed_off") ? "relay" : "Negotiated", hex(rest)).isEmpty();
        }
    }

    /** The handed_off or fallback event of the connection, as soon as there is one. */
    private String awaitVerdict(long id) {
        RecordingHandoffEvents events = broker.events();
        String[] verdict = new String[1];
        RecordingHandoffEvents.awaitTrue(() -> {
            for (RecordingHandoffEvents.Event e : events.of(id)) {
                if (e.kind().equals("handed_off") || e.kind().equals("fallback")) {
                    verdict[0] = e.kind();
                    return true;
                }
            }
            return false;
        }, ACK_DEADLINE.plus(MARGIN));
        assertThat(verdict[0]).as("a verdict within %d ms; events of connection %d: %s",
                ACK_DEADLINE.plus(MARGIN).toMillis(), id, events.of(id)).isNotNull();
        return verdict[0];
    }

    /**
     * The refused relay and nothing after it. Its detail is the backend's, made printable and
     * bounded; an empty one is explained in the broker's own words (docs/handoff.md).
     */
    private static void checkRefusedRelay(byte[] rest, Refusal refusal, long id, ByteString token)
            throws IOException {
        ByteArrayInputStream in = new ByteArrayInputStream(rest);
        Frame relay;
        try {
            relay = FrameIO.read(in, FrameLimit.HANDOFF);
        } catch (IOException e) {
            throw new AssertionError("no refused relay after the Negotiated: " + hex(rest), e);
        }
        // handoff.md: the backend's words, or the broker's when it gave none.
        String detail = refusal.detail().isEmpty() ? "backend refused the handoff" : refusal.detail();
        assertThat(relay).as("the refused relay").isEqualTo(relay(id, token, false, detail));
        assertThat(in.available()).as("bytes after the refused relay: %s", hex(rest)).isZero();
    }

    /** wire-v1.md section 3: EVENT, 0xD0FF, request_id C, HandoffAck{T, accepted, detail, C}. */
    private static Frame relay(long id, ByteString token, boolean accepted, String detail) {
        return Envelope.frame(FrameKind.FRAME_KIND_EVENT, WireProtocol.PAYLOAD_HANDOFF, id, HandoffAck.newBuilder()
                .setToken(token).setAccepted(accepted).setErrorDetail(detail).setCorrelationId(id).build());
    }

    /**
     * Reads {@code length} bytes from the descriptor the backend received. It shares the broker's
     * non-blocking mode (the protocol leaves the mode to the backend), so each read waits for
     * bytes first.
     */
    private static byte[] readPassed(@Nullable FileDescriptor passed, int length) throws Exception {
        assertThat(passed).as("the descriptor the backend received").isNotNull();
        int number = Posix.number(passed);
        // Not closed here: closing the descriptor, as the case does, closes every stream on it.
        FileInputStream in = new FileInputStream(passed);
        byte[] read = new byte[length];
        int done = 0;
        long deadline = System.nanoTime() + MARGIN.toNanos();
        while (done < length && System.nanoTime() - deadline < 0) {
            if (!Posix.readableNow(number)) {
                Thread.sleep(1);
                continue;
            }
            int n = in.read(read, done, length - done);
            if (n < 0) {
                break;
            }
            done += n;
        }
        return Arrays.copyOf(read, done);
    }

    // ---- what is settled after the clients are done ----

    /**
     * Each case's ACK result and fallback reason, exactly once and within the deadline, the grace
     * period and a margin; the control connections left out of step closed by the broker; and no
     * offer on a control connection after an exchange that left it out of step.
     *
     * @return how many offers came on a control connection that had carried one before
     */
    private int checkWhatFollowedTheVerdicts(List<Played> played) {
        RecordingHandoffEvents events = broker.events();
        Duration bound = ACK_DEADLINE.plus(GRACE).plus(MARGIN);
        // The last ACK results come at most a grace period after their deadline; the last control
        // connections left out of step are closed at the next maintenance run.
        List<AFUNIXSocket> toBeClosed = played.stream().filter(p -> p.assigned().brokerMustClose())
                .map(Played::control).toList();
        RecordingHandoffEvents.awaitTrue(() -> events.ackCounts().values().stream().mapToInt(n -> n).sum()
                >= played.size() && toBeClosed.stream().allMatch(backend::endedByBroker), bound);
        CaseFailures failures = new CaseFailures();
        Map<Long, Played> byId = new HashMap<>();
        for (Played p : played) {
            byId.put(p.id(), p);
            try {
                checkSettled(p, events, bound);
            } catch (AssertionError e) {
                failures.add(p.index(), new AssertionError(p.assigned().describe(seed) + ": " + e.getMessage(), e));
            }
        }
        // Each control connection's exchanges, in the order its backend thread read them.
        Map<AFUNIXSocket, Exchange> previous = new HashMap<>();
        int reused = 0;
        for (Exchange exchange : backend.exchanges()) {
            Exchange before = previous.put(exchange.control, exchange);
            if (before != null) {
                reused++;
            }
            Played after = byId.get(exchange.offer.getCorrelationId());
            Played leftItOutOfStep = before == null ? null : byId.get(before.offer.getCorrelationId());
            if (after != null && leftItOutOfStep != null && !leftItOutOfStep.assigned().expected().inStep()) {
                failures.add(after.index(), new AssertionError(after.assigned().describe(seed) + ": offered on the"
                        + " control connection that case " + leftItOutOfStep.index() + " left out of step ("
                        + leftItOutOfStep.assigned().describe(seed) + ")"));
            }
        }
        failures.throwIfAny(played.size());
        return reused;
    }

    private void checkSettled(Played p, RecordingHandoffEvents events, Duration bound) {
        long id = p.id();
        Expected expected = p.assigned().expected();
        assertThat(events.ackResultsOf(id)).as("ACK results of connection %d", id).containsExactly(expected.result());
        RecordingHandoffEvents.Event ack = events.awaitEvent(id, "ack", Duration.ZERO);
        assertThat(Duration.ofNanos(ack.atNanos() - p.negotiatedAt())).as("time to the ACK result")
                .isLessThan(bound);
        if (expected.reason() == null) {
            assertThat(events.fallbackReasonsOf(id)).as("fallback reasons").isEmpty();
            assertThat(events.wasHandedOff(id)).as("handed off").isTrue();
        } else {
            assertThat(events.fallbackReasonsOf(id)).as("fallback reasons").containsExactly(expected.reason());
            assertThat(events.wasHandedOff(id)).as("handed off").isFalse();
        }
        if (p.assigned().brokerMustClose()) {
            assertThat(backend.endedByBroker(p.control()))
                    .as("the broker closed the control connection this exchange left out of step").isTrue();
        }
    }

    /**
     * The scrape's handoff counters: exactly what the cases called for, {@code handedOffBesides}
     * handoffs more, and {@code lostToAHangUp} offers ended as a missing ACK.
     */
    private static void checkCounters(PrometheusMeterRegistry registry, List<Played> played, int handedOffBesides,
            int lostToAHangUp) {
        Map<String, Double> owed = new TreeMap<>();
        String service = HandoffFixture.SERVICE;
        for (Played p : played) {
            Expected expected = p.assigned().expected();
            owed.merge(PrometheusSamples.key(METRICS + "handoff_acks_total", "service", service, "result",
                    expected.result().label()), 1.0, Double::sum);
            owed.merge(PrometheusSamples.key(METRICS + "handoff_total", "service", service, "route",
                    expected.reason() == null ? "handed_off" : "fallback"), 1.0, Double::sum);
            if (expected.reason() != null) {
                owed.merge(PrometheusSamples.key(METRICS + "handoff_fallback_total", "service", service, "reason",
                        expected.reason()), 1.0, Double::sum);
            }
        }
        owed.merge(PrometheusSamples.key(METRICS + "handoff_acks_total", "service", service, "result", "accepted"),
                (double) handedOffBesides, Double::sum);
        if (lostToAHangUp > 0) {
            owed.merge(PrometheusSamples.key(METRICS + "handoff_acks_total", "service", service, "result",
                    AckResult.MISSING.label()), (double) lostToAHangUp, Double::sum);
            owed.merge(PrometheusSamples.key(METRICS + "handoff_total", "service", service, "route", "fallback"),
                    (double) lostToAHangUp, Double::sum);
            owed.merge(PrometheusSamples.key(METRICS + "handoff_fallback_total", "service", service, "reason",
                    FallbackReason.BACKEND_UNAVAILABLE), (double) lostToAHangUp, Double::sum);
        }
        owed.merge(PrometheusSamples.key(METRICS + "handoff_total", "service", service, "route", "handed_off"),
                (double) handedOffBesides, Double::sum);
        String[] names = {METRICS + "handoff_acks_total", METRICS + "handoff_total",
            METRICS + "handoff_fallback_total"};
        assertThat(PrometheusSamples.parse(registry.scrape()).nonZero(names)).as("the handoff counters scraped")
                .isEqualTo(owed);
    }

    // ---- around the cases ----

    /**
     * Stops the backend and waits until the broker's pool has discarded what that closed. The pool
     * keeps what it last needed, so descriptors counted with control connections open would say
     * nothing of leaks.
     */
    private void closeEveryControlConnection(Path endpoint) {
        backend.crash();
        ControlConnectionPool pool = broker.orchestrator().pool();
        assertThat(RecordingHandoffEvents.awaitTrue(() -> pool.stats(endpoint).idle() == 0
                && pool.stats(endpoint).active() == 0, MARGIN))
                .as("seed %d: control connections left in the pool: %s", seed, pool.stats(endpoint)).isTrue();
    }

    // ---- what the broker owes ----

    /** What a case is owed: its ACK result, its fallback reason (null when handed off), and the stream's state. */
    private sealed interface Expected {

        AckResult result();

        @Nullable String reason();

        /** True when the stream was left exactly at the end of the ACK, so that it may carry another offer. */
        boolean inStep();
    }

    private record HandedOff(boolean inStep) implements Expected {

        @Override
        public AckResult result() {
            return AckResult.ACCEPTED;
        }

        @Override
        public @Nullable String reason() {
            return null;
        }
    }

    /** An explicit refusal; {@code detail} is what the relay must carry, empty for the broker's own words. */
    private record Refusal(String detail, boolean inStep) implements Expected {

        @Override
        public AckResult result() {
            return AckResult.REFUSED;
        }

        @Override
        public String reason() {
            return FallbackReason.BACKEND_REFUSED;
        }
    }

    /** The descriptor reached the backend, the answer settles nothing; {@code abandoned} at the deadline. */
    private record Ambiguous(AckResult result, String reason, boolean abandoned) implements Expected {

        @Override
        public boolean inStep() {
            return false;
        }
    }

    /**
     * What the broker owes a script: protocol section 3 and docs/handoff.md, applied to the bytes as
     * the project's own decoder reads them. The first frame decides, in the protocol's order: framing,
     * envelope, payload, request_id and correlation_id, token, accepted. A stream that holds no whole
     * frame is missing when the backend hangs up, and otherwise waits for the deadline, after which
     * the late-ACK watcher judges what follows.
     */
    private static Expected expected(Script script, long id, ByteString token) {
        ByteArrayInputStream sent = new ByteArrayInputStream(script.now());
        Frame frame;
        try {
            frame = FrameIO.read(sent, FrameLimit.HANDOFF);
        } catch (EOFException | IncompleteFrameException noWholeFrame) {
            return script.closeNow() ? new Ambiguous(AckResult.MISSING, FallbackReason.BACKEND_UNAVAILABLE, false)
                    : new Ambiguous(afterTheDeadline(concat(script.now(), script.late())),
                            FallbackReason.BACKEND_ACK_TIMEOUT, true);
        } catch (IOException notAFrame) {
            return new Ambiguous(AckResult.MALFORMED, FallbackReason.ACK_MISMATCH, false);
        }
        boolean inStep = sent.available() == 0 && !script.closeNow();
        HandoffAck ack;
        try {
            Envelope.validate(frame, FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF);
            ack = Envelope.payload(frame, HandoffAck.parser(), "HandoffAck");
        } catch (WireException notAnAck) {
            return new Ambiguous(AckResult.MALFORMED, FallbackReason.ACK_MISMATCH, false);
        }
        if (frame.getRequestId() != id || ack.getCorrelationId() != id) {
            return new Ambiguous(AckResult.CORRELATION_MISMATCH, FallbackReason.ACK_MISMATCH, false);
        }
        if (!ack.getToken().equals(token)) {
            return new Ambiguous(AckResult.TOKEN_MISMATCH, FallbackReason.ACK_MISMATCH, false);
        }
        if (!ack.getAccepted()) {
            return new Refusal(PeerText.printable(ack.getErrorDetail(), PeerText.REASON_MAX_CHARS), inStep);
        }
        return new HandedOff(inStep);
    }

    /**
     * The watcher's verdict on a stream once the deadline passed: late for a whole frame, also one
     * longer than the broker reads but within the protocol's limit (decisions section 4); missing
     * for silence, a hang-up or garbage.
     */
    private static AckResult afterTheDeadline(byte[] stream) {
        try {
            FrameIO.read(new ByteArrayInputStream(stream), FrameLimit.HANDOFF);
            return AckResult.LATE;
        } catch (FrameTooLongException tooLong) {
            return tooLong.announcedLength() <= WireProtocol.MAX_FRAME_BODY ? AckResult.LATE : AckResult.MISSING;
        } catch (IOException silenceHangUpOrGarbage) {
            return AckResult.MISSING;
        }
    }

    // ---- the cases ----

    /** A case as played on one connection. */
    private record Assigned(Case c, Script script, Expected expected, Exchange exchange,
            @Nullable FileDescriptor passed) {

        /** Lets the backend's copy of the client connection go, without shutdown, as a backend would. */
        void closeBackendCopy() {
            if (passed != null) {
                Descriptors.closeReceivedQuietly(passed);
            }
        }

        /** Out of step, and the backend left the connection open: closing it is the broker's part. */
        boolean brokerMustClose() {
            return !expected.inStep() && !script.closeNow() && !script.closeLate();
        }

        String describe(long seed) {
            String what = " (" + c.mutation() + ": " + script + "), owed " + expected;
            return c == Case.WARM_UP ? "the handoff before the cases" + what
                    : "seed " + seed + " case " + c.index() + what + " [replay: -D" + SEED_PROPERTY + "=" + seed
                            + " -D" + CASE_PROPERTY + "=" + c.index() + "]";
        }
    }

    /** A case whose client has read all it was owed; its connection id and when its Negotiated came. */
    private record Played(Assigned assigned, long negotiatedAt) {

        long id() {
            return assigned.exchange().offer.getCorrelationId();
        }

        int index() {
            return assigned.c().index();
        }

        AFUNIXSocket control() {
            return assigned.exchange().control;
        }
    }

    /**
     * What the backend sends: {@code now} as soon as it has read the offer ({@code chunk} bytes at a
     * time, or all at once for 0), then hangs up if {@code closeNow}; once the broker gave the
     * handoff up, {@code late}, then hangs up if {@code closeLate}.
     */
    private record Script(String how, byte[] now, int chunk, boolean closeNow, byte[] late, boolean closeLate,
            boolean passesBack) {

        static Script atOnce(String how, byte[] now, boolean closeNow) {
            return new Script(how, now, 0, closeNow, NOTHING, false, false);
        }

        /** {@code now} at once and left open; after the deadline {@code late}, then perhaps a hang-up. */
        static Script beyondTheDeadline(String how, byte[] now, byte[] late, boolean closeLate) {
            return new Script(how, now, 0, false, late, closeLate, false);
        }

        @Override
        public String toString() {
            return how + "; sent " + hex(now) + (chunk > 0 ? " " + chunk + " bytes at a time" : "")
                    + (closeNow ? ", then hung up" : "")
                    + (late.length > 0 ? "; after the deadline " + hex(late) : "")
                    + (closeLate ? "; after the deadline hung up" : "");
        }
    }

    private enum Mutation {
        NONE(3), FLIP_BITS(6), OVERWRITE(4), CUT_SHORT(3), WRONG_LENGTH(3), BYTES_AFTER(2), SECOND_ACK(2),
        ANOTHER_TOKEN(2), ANOTHER_ID(2), ENVELOPE(2), REFUSAL(3), TRICKLE(2), DESCRIPTOR_BACK(1), LATE(2),
        HANG_UP(1), SILENT(1);

        private final int weight;

        Mutation(int weight) {
            this.weight = weight;
        }

        static Mutation pick(Random random) {
            int at = random.nextInt(Arrays.stream(values()).mapToInt(m -> m.weight).sum());
            for (Mutation m : values()) {
                at -= m.weight;
                if (at < 0) {
                    return m;
                }
            }
            throw new IllegalStateException("weights");
        }
    }

    /** One change to a valid ACK frame's envelope or payload, which the broker must take for malformed. */
    private record EnvelopeChange(String what, UnaryOperator<Frame.Builder> change) {
    }

    private static final List<EnvelopeChange> ENVELOPE_CHANGES = List.of(
            new EnvelopeChange("kind REQUEST", f -> f.setKind(FrameKind.FRAME_KIND_REQUEST)),
            new EnvelopeChange("kind EVENT", f -> f.setKind(FrameKind.FRAME_KIND_EVENT)),
            new EnvelopeChange("kind CANCEL", f -> f.setKind(FrameKind.FRAME_KIND_CANCEL)),
            new EnvelopeChange("an unknown kind", f -> f.setKindValue(7)),
            new EnvelopeChange("payload_protocol 0", f -> f.setPayloadProtocol(WireProtocol.PAYLOAD_CONTROL)),
            new EnvelopeChange("payload_protocol 0xAD01", f -> f.setPayloadProtocol(WireProtocol.PAYLOAD_ADMIN)),
            new EnvelopeChange("payload_protocol 0xD0FE", f -> f.setPayloadProtocol(0xD0FE)),
            new EnvelopeChange("encoding ZSTD", f -> f.setPayloadEncoding(PayloadEncoding.PAYLOAD_ENCODING_ZSTD)),
            new EnvelopeChange("an unknown encoding", f -> f.setPayloadEncodingValue(9)),
            new EnvelopeChange("envelope_version 0", f -> f.setEnvelopeVersion(0)),
            new EnvelopeChange("envelope_version 2", f -> f.setEnvelopeVersion(2)),
            new EnvelopeChange("a payload that is no HandoffAck",
                    f -> f.setPayload(ByteString.copyFrom(new byte[] {0x0A, 0x7F}))));

    private static final List<String> DETAILS = List.of("", "no free handler", "x".repeat(300),
            "line\nbreak\u0007bell\u009b", "\u202Eright to left", "ünïcödé 日本語 \uD83D\uDE80",
            // A frame longer than the broker reads: malformed (decisions section 4).
            "d".repeat(WireProtocol.MAX_HANDOFF_BODY));

    /** One case: a mutation, and the seed of its bytes, so that it is the same whatever else runs. */
    private record Case(int index, Mutation mutation, long bytesSeed) {

        /** An ACK for another token: rejected, whatever the bytes drawn. */
        static final Case WARM_UP = new Case(-1, Mutation.ANOTHER_TOKEN, 0);

        static Case generate(long seed, int index) {
            Random random = new Random(seed * 1_000_003L + index);
            return new Case(index, Mutation.pick(random), random.nextLong());
        }

        /** The case's script for the connection {@code id}, whose token is {@code token}. */
        Script script(long id, ByteString token) {
            Random random = new Random(bytesSeed);
            HandoffAck valid = HandoffAck.newBuilder().setToken(token).setAccepted(true).setCorrelationId(id).build();
            Script script = switch (mutation) {
                case NONE -> Script.atOnce("a valid ACK", encode(frame(id, valid)), random.nextInt(4) == 0);
                case FLIP_BITS -> {
                    byte[] bytes = encode(someValidFrame(id, valid, random));
                    yield Script.atOnce("" + flipBits(bytes, random.nextInt(1, 4), random), bytes,
                            random.nextInt(3) == 0);
                }
                case OVERWRITE -> {
                    byte[] bytes = encode(someValidFrame(id, valid, random));
                    yield Script.atOnce("" + overwriteBytes(bytes, random.nextInt(1, 5), random), bytes,
                            random.nextInt(3) == 0);
                }
                case CUT_SHORT -> {
                    byte[] whole = encode(someValidFrame(id, valid, random));
                    int cut = random.nextInt(whole.length);
                    yield Script.atOnce("cut after " + cut + " of " + whole.length + " bytes",
                            Arrays.copyOf(whole, cut), true);
                }
                case WRONG_LENGTH -> {
                    byte[] bytes = encode(someValidFrame(id, valid, random));
                    long body = bytes.length - WireProtocol.HEADER_LENGTH;
                    long[] lengths = {random.nextLong(body), body + random.nextInt(1, 9), 0,
                            WireProtocol.MAX_HANDOFF_BODY + 1L,
                            random.nextLong(WireProtocol.MAX_HANDOFF_BODY + 1L, WireProtocol.MAX_FRAME_BODY + 1L),
                            WireProtocol.MAX_FRAME_BODY + 1L, 0xFFFF_FFFFL};
                    long announced = lengths[random.nextInt(lengths.length)];
                    System.arraycopy(RawClient.header(announced), 0, bytes, 0, WireProtocol.HEADER_LENGTH);
                    String how = "a body of " + body + " bytes announced as " + announced;
                    yield random.nextBoolean() ? Script.atOnce(how, bytes, true)
                            : Script.beyondTheDeadline(how, bytes, NOTHING, random.nextBoolean());
                }
                case BYTES_AFTER -> {
                    byte[] after = new byte[random.nextInt(1, 65)];
                    random.nextBytes(after);
                    if (random.nextBoolean()) {
                        after[0] = WireProtocol.FRAMING_VERSION; // the start of a frame, to be taken for one
                    }
                    yield Script.atOnce(after.length + " bytes after the ACK",
                            concat(encode(someValidFrame(id, valid, random)), after), random.nextInt(4) == 0);
                }
                case SECOND_ACK -> {
                    Frame first = random.nextBoolean() ? someValidFrame(id, valid, random)
                            : frame(id, valid.toBuilder().setToken(anotherToken(token, random)).build());
                    Frame second = someValidFrame(id, valid, random);
                    yield Script.atOnce("two ACKs", concat(encode(first), encode(second)), random.nextInt(4) == 0);
                }
                case ANOTHER_TOKEN -> {
                    ByteString other = anotherToken(token, random);
                    yield Script.atOnce("the token " + hex(other.toByteArray()),
                            encode(frame(id, valid.toBuilder().setToken(other).setAccepted(random.nextBoolean())
                                    .build())), random.nextInt(4) == 0);
                }
                case ANOTHER_ID -> {
                    long other = random.nextInt(4) == 0 ? 0 : id + random.nextLong(1, 1_000);
                    int which = random.nextInt(3);
                    long requestId = which == 1 ? id : other;
                    HandoffAck ack = which == 0 ? valid : valid.toBuilder().setCorrelationId(other).build();
                    yield Script.atOnce("request_id " + requestId + ", correlation_id " + ack.getCorrelationId(),
                            encode(frame(requestId, ack)), random.nextInt(4) == 0);
                }
                case ENVELOPE -> {
                    EnvelopeChange change = ENVELOPE_CHANGES.get(random.nextInt(ENVELOPE_CHANGES.size()));
                    yield Script.atOnce(change.what(),
                            encode(change.change().apply(frame(id, valid).toBuilder()).build()),
                            random.nextInt(4) == 0);
                }
                case REFUSAL -> {
                    int pick = random.nextInt(DETAILS.size() + 1);
                    String detail = pick < DETAILS.size() ? DETAILS.get(pick) : largestDetail(id, valid);
                    yield Script.atOnce("a refusal with a detail of " + detail.length() + " characters",
                            encode(frame(id, valid.toBuilder().setAccepted(false).setErrorDetail(detail).build())),
                            random.nextInt(4) == 0);
                }
                case TRICKLE -> {
                    // Nothing follows the frame: bytes still on their way once the broker judged it
                    // would meet the next offer on a connection the broker found clean.
                    byte[] bytes = encode(random.nextInt(4) > 0 ? someValidFrame(id, valid, random)
                            : frame(id, valid.toBuilder().setToken(anotherToken(token, random)).build()));
                    // A dozen writes at most, so that the pauses between them stay far from the deadline.
                    int parts = random.nextInt(2, 13);
                    yield new Script("an ACK in " + parts + " parts", bytes, (bytes.length + parts - 1) / parts, false,
                            NOTHING, false, false);
                }
                case LATE -> {
                    if (random.nextInt(4) == 0) {
                        // The watcher goes on with the frame the event loop had begun to read.
                        byte[] whole = encode(someValidFrame(id, valid, random));
                        int cut = random.nextInt(1, whole.length);
                        yield Script.beyondTheDeadline("an ACK cut by the deadline after " + cut + " bytes",
                                Arrays.copyOf(whole, cut), Arrays.copyOfRange(whole, cut, whole.length),
                                random.nextBoolean());
                    }
                    byte[] late = switch (random.nextInt(6)) {
                        case 0 -> encode(someValidFrame(id, valid, random));
                        case 1 -> {
                            byte[] bytes = encode(someValidFrame(id, valid, random));
                            flipBits(bytes, random.nextInt(1, 4), random);
                            yield bytes;
                        }
                        case 2 -> RawClient.header(random.nextLong(WireProtocol.MAX_HANDOFF_BODY + 1L,
                                WireProtocol.MAX_FRAME_BODY + 2L));
                        case 3 -> "HTTP/1.1 400 Bad Request\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
                        case 4 -> Arrays.copyOf(encode(frame(id, valid)), random.nextInt(1, 20));
                        default -> encode(frame(id, valid.toBuilder().setToken(anotherToken(token, random)).build()));
                    };
                    yield Script.beyondTheDeadline("no ACK in time", NOTHING, late, random.nextBoolean());
                }
                case DESCRIPTOR_BACK -> new Script("an ACK with the client's descriptor attached",
                        encode(someValidFrame(id, valid, random)), 0, random.nextInt(4) == 0, NOTHING, false, true);
                case HANG_UP -> Script.atOnce("no ACK, a hang-up", NOTHING, true);
                case SILENT -> Script.beyondTheDeadline("no ACK", NOTHING, NOTHING, random.nextBoolean());
            };
            // What follows the deadline is only sent when the broker gives the handoff up then.
            return expected(script, id, token) instanceof Ambiguous a && a.abandoned() ? script
                    : new Script(script.how(), script.now(), script.chunk(), script.closeNow(), NOTHING, false,
                            script.passesBack());
        }

        /**
         * A correct ACK: most often accepting (now and then with a detail, which the relay does not
         * carry), now and then refusing; now and then with trace context.
         */
        private static Frame someValidFrame(long id, HandoffAck valid, Random random) {
            HandoffAck ack = switch (random.nextInt(4)) {
                case 0 -> valid.toBuilder().setAccepted(false).setErrorDetail("no free handler").build();
                case 1 -> valid.toBuilder().setErrorDetail("accepted, with a detail nobody needs").build();
                default -> valid;
            };
            Frame frame = frame(id, ack);
            return random.nextInt(3) > 0 ? frame : frame.toBuilder()
                    .setTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                    .setTracestate("vendor=x").build();
        }

        /** The longest detail of a refusal whose frame the broker still reads whole (decisions section 4). */
        private static String largestDetail(long id, HandoffAck valid) {
            HandoffAck.Builder refusal = valid.toBuilder().setAccepted(false);
            int length = WireProtocol.MAX_HANDOFF_BODY - frame(id, refusal.build()).getSerializedSize();
            // The detail's own tag and length, and the payload's longer one, take a few bytes of it.
            while (frame(id, refusal.setErrorDetail("d".repeat(length)).build()).getSerializedSize()
                    > WireProtocol.MAX_HANDOFF_BODY) {
                length--;
            }
            return "d".repeat(length);
        }

        private static ByteString anotherToken(ByteString token, Random random) {
            return switch (random.nextInt(5)) {
                case 0 -> {
                    byte[] flipped = token.toByteArray();
                    flipBits(flipped, 1, random);
                    yield ByteString.copyFrom(flipped);
                }
                case 1 -> token.substring(0, 15);
                case 2 -> token.concat(ByteString.copyFrom(new byte[] {(byte) random.nextInt(256)}));
                case 3 -> ByteString.EMPTY;
                default -> {
                    byte[] other = new byte[16];
                    random.nextBytes(other);
                    yield ByteString.copyFrom(other);
                }
            };
        }

        private static Frame frame(long requestId, HandoffAck ack) {
            return Envelope.frame(FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_HANDOFF, requestId, ack);
        }

        private static byte[] encode(Frame frame) {
            return FrameIO.encode(frame);
        }
    }
}
