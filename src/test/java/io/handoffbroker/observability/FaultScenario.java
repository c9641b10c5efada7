package io.handoffbroker.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.google.protobuf.ByteString;
import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.handoff.ScriptedHandoffBackend;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.ErrorCode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Faults injected into a running application whose service {@value #SERVICE}
 * hands off to a {@link ScriptedHandoffBackend}: Hellos the broker must refuse, and
 * one handoff for each way the ACK stage can end. Each step waits until the
 * backend has its offer, so the next step's script applies to the next offer.
 */
final class FaultScenario {

    static final String SERVICE = "scripted";
    static final String VERSION = "1.0.0";
    static final Duration ACK_DEADLINE = Duration.ofSeconds(1);

    /** One client's handoff attempt: how it ended for the client and the token it was given. */
    record Attempt(String fault, long connectionId, Route route, byte[] token) {
    }

    private final Path brokerSocket;
    private final ScriptedHandoffBackend backend;

    FaultScenario(Path brokerSocket, ScriptedHandoffBackend backend) {
        this.brokerSocket = brokerSocket;
        this.backend = backend;
    }

    /**
     * The settings the scenario relies on: the service, a deadline and grace period
     * that leave a loaded machine room, and a failed-attempt limit that never skips
     * the misbehaving backend.
     */
    static List<String> brokerArgs(Path backendPipe, Path handoffEndpoint) {
        return List.of(
                "--broker.services[0].name=" + SERVICE,
                "--broker.services[0].version=" + VERSION,
                "--broker.services[0].backend-endpoint=" + backendPipe,
                "--broker.services[0].handoff-endpoint=" + handoffEndpoint,
                "--broker.handoff.ack-deadline=" + ACK_DEADLINE.toMillis() + "ms",
                "--broker.handoff.ack-grace-period=4s",
                "--broker.handoff.failed-attempt-limit=1000");
    }

    /** A frame that is no Hello at all, and a Hello for a service nobody configured. */
    void refusedHellos() throws Exception {
        try (RawClient client = RawClient.connect(brokerSocket)) {
            // framing version 1, a 3-byte body that is no protobuf message (a varint that never ends)
            client.send(new byte[] {1, 3, 0, 0, 0, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
            assertEquals(ErrorCode.ERROR_PEER_REJECTED, client.readReply().getRefused().getCode());
        }
        try (RawClient client = RawClient.connect(brokerSocket)) {
            assertEquals(ErrorCode.ERROR_SERVICE_UNKNOWN,
                    client.hello(RawClient.hello("nobody-configured-this", "1.0.0")).getRefused().getCode());
        }
    }

    /**
     * One accepted handoff, then one each refused, late, with another token, with
     * another correlation id, and closed without an ACK (missing). Every client ends
     * on a working connection.
     */
    List<Attempt> handoffs() throws Exception {
        List<Attempt> attempts = new ArrayList<>();
        attempts.add(attempt("accepted", ScriptedHandoffBackend.acceptAndEcho(), Route.HANDED_OFF));
        attempts.add(attempt("refused", ScriptedHandoffBackend.refuse("scripted refusal"), Route.RECONNECTED));
        attempts.add(attempt("late", ScriptedHandoffBackend.answerAfter(ACK_DEADLINE.plusMillis(600)),
                Route.RECONNECTED));
        attempts.add(attempt("token mismatch",
                ScriptedHandoffBackend.ackWith(a -> a.setToken(ByteString.copyFrom(new byte[16]))), Route.RECONNECTED));
        attempts.add(attempt("correlation mismatch",
                ScriptedHandoffBackend.ackWith(a -> a.setCorrelationId(a.getCorrelationId() + 1)), Route.RECONNECTED));
        attempts.add(attempt("missing", ScriptedHandoffBackend.closeControl(), Route.RECONNECTED));
        return attempts;
    }

    private Attempt attempt(String fault, ScriptedHandoffBackend.Behaviour behaviour, Route expected)
            throws Exception {
        int exchange = backend.exchanges().size() + 1;
        backend.then(behaviour);
        // A client that gives up on the relay soon where the broker says nothing more (ambiguous
        // outcomes), and a patient one where the relay must come.
        Duration relayWait = expected == Route.HANDED_OFF || fault.equals("refused") ? Duration.ofSeconds(5)
                : Duration.ofMillis(300);
        BrokerClient client = new BrokerClient(brokerSocket, Duration.ofSeconds(5), relayWait, true);
        try (ServiceConnection connection = client.connect(SERVICE, VERSION)) {
            assertEquals(expected, connection.route(), fault + ": " + connection.fallbackReason());
            assertEquals("ping", HandoffFixture.echo(connection.socket(), "ping"), fault);
            assertNotNull(backend.awaitExchange(exchange, Duration.ofSeconds(5)), fault + ": no offer reached the backend");
            return new Attempt(fault, connection.connectionId(), connection.route(),
                    connection.negotiated().getHandlePassedToken().toByteArray());
        }
    }
}
