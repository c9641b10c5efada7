package io.handoffbroker.bench;

import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.HelloReply;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * One Hello the way the client SDK does it: {@link BrokerClient#exchange(Hello)}
 * connects afresh, writes the Hello frame, reads the reply and closes. The Hello
 * asks for no handoff (capability bit clear), so the broker answers
 * {@code Negotiated} and closes: the plain Hello route. Thread-safe; counts every
 * reply that is not {@code Negotiated}.
 */
final class HelloProbe {

    private final BrokerClient client;
    private final String service;
    private final String version;
    private final Map<String, LongAdder> failures = new ConcurrentHashMap<>();

    HelloProbe(Path brokerSocket, String service, String version) {
        this.client = new BrokerClient(brokerSocket, Duration.ofSeconds(5), BrokerClient.DEFAULT_RELAY_WAIT, false);
        this.service = service;
        this.version = version;
    }

    /** A Hello, built before the clock starts (building it is not part of the round trip). */
    Hello hello() {
        return client.helloFor(service, version);
    }

    /**
     * Runs one exchange and checks the reply after the clock stopped.
     *
     * @return {@link System#nanoTime()} when the exchange (connect, Hello, reply, close) returned,
     *     or -1 when it failed or the reply was not {@code Negotiated}
     */
    long exchange(Hello hello) {
        Frame reply;
        long done;
        try {
            reply = client.exchange(hello);
            done = System.nanoTime();
        } catch (IOException e) {
            fail(e.getClass().getSimpleName() + ": " + e.getMessage());
            return -1;
        }
        try {
            Envelope.validate(reply, FrameKind.FRAME_KIND_RESPONSE, WireProtocol.PAYLOAD_CONTROL);
            HelloReply helloReply = Envelope.payload(reply, HelloReply.parser(), "HelloReply");
            if (helloReply.hasNegotiated()) {
                return done;
            }
            fail(helloReply.hasRefused() ? "refused " + helloReply.getRefused().getCode() : "empty reply");
        } catch (WireException e) {
            fail("invalid reply: " + e.getMessage());
        }
        return -1;
    }

    private void fail(String what) {
        failures.computeIfAbsent(what, k -> new LongAdder()).increment();
    }

    long failureCount() {
        return failures.values().stream().mapToLong(LongAdder::sum).sum();
    }

    /** The failures by kind, for the report: {@code "refused ERROR_RATE_LIMITED x3; ..."}, or empty. */
    String failureSummary() {
        StringBuilder summary = new StringBuilder();
        failures.forEach((what, count) -> summary.append(summary.isEmpty() ? "" : "; ").append(what)
                .append(" x").append(count.sum()));
        return summary.toString();
    }
}
