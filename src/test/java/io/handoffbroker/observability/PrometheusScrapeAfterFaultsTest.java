package io.handoffbroker.observability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.handoff.FallbackReason;
import io.handoffbroker.handoff.ScriptedHandoffBackend;
import io.handoffbroker.testing.LiveThreads;
import io.handoffbroker.testing.OpenDescriptors;
import io.handoffbroker.testing.PrometheusSamples;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.ErrorCode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.DoublePredicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application with a configured service whose handoff endpoint is a
 * {@link ScriptedHandoffBackend}, faults injected, then {@code /actuator/prometheus}
 * scraped and parsed: the samples operators alert on carry exactly the counts of
 * what happened, under the reference names and labels, each in a series that was there at
 * zero from start-up, and the series that must not have moved are present at zero.
 */
class PrometheusScrapeAfterFaultsTest {

    private static final String P = "running_process_broker_v1_";

    @TempDir
    Path dir;

    @Test
    void everyBrokerCounterInTheScrapeIsExactAfterInjectedFaults() throws Exception {
        Set<Thread> threadsBefore = LiveThreads.snapshot();
        Path pipe = dir.resolve("b").resolve("pipe.sock");
        Path endpoint = dir.resolve("h").resolve("ho.sock");
        List<String> args = new ArrayList<>(FaultScenario.brokerArgs(pipe, endpoint));
        // Seven Hellos per peer: the unknown service and the six handoffs; the eighth is rate-limited.
        // (The malformed frame is refused before negotiation and does not count.)
        // A Hello timeout far beyond the test, so the stalled Hello below stays until its client goes.
        args.addAll(List.of("--broker.demo.enabled=false", "--broker.rate-limit.hellos-per-peer=7",
                "--broker.rate-limit.window=1h", "--broker.hello-timeout=1m"));
        try (ScriptedHandoffBackend backend = new ScriptedHandoffBackend(endpoint).start();
                BackendServer _ = new BackendServer(pipe, new EchoHandler(), 64).start();
                RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"),
                        args.toArray(String[]::new))) {
            OpenDescriptors.Snapshot started = OpenDescriptors.stable(Duration.ofMillis(200), Duration.ofSeconds(3));
            Map<String, Double> countersAtStart = counters(PrometheusSamples.parse(broker.scrape()));
            FaultScenario scenario = new FaultScenario(broker.socket(), backend);
            scenario.refusedHellos();
            scenario.handoffs();
            try (RawClient client = RawClient.connect(broker.socket())) {
                assertEquals(ErrorCode.ERROR_RATE_LIMITED, client.hello(RawClient.hello(FaultScenario.SERVICE,
                        FaultScenario.VERSION)).getRefused().getCode());
            }

            // Nine Hellos answered and six ACK verdicts; the late ACK is judged during the grace
            // period, after its client moved on.
            PrometheusSamples samples = awaitScrape(broker, 9, 6);
            String s = FaultScenario.SERVICE;
            String v = FaultScenario.VERSION;
            assertEquals(new TreeMap<>(Map.ofEntries(
                    sample("hello_total", "service", s, "version", v, "outcome", "negotiated", 6),
                    sample("hello_total", "service", "unknown", "version", "other", "outcome", "service_unknown", 1),
                    sample("hello_total", "service", "unknown", "version", "other", "outcome", "peer_rejected", 1),
                    sample("hello_total", "service", s, "version", v, "outcome", "rate_limited", 1),
                    sample("handoff_total", "service", s, "route", "handed_off", 1),
                    sample("handoff_total", "service", s, "route", "fallback", 5),
                    sample("handoff_acks_total", "service", s, "result", "accepted", 1),
                    sample("handoff_acks_total", "service", s, "result", "refused", 1),
                    sample("handoff_acks_total", "service", s, "result", "late", 1),
                    sample("handoff_acks_total", "service", s, "result", "token_mismatch", 1),
                    sample("handoff_acks_total", "service", s, "result", "correlation_mismatch", 1),
                    sample("handoff_acks_total", "service", s, "result", "missing", 1),
                    sample("handoff_fallback_total", "service", s, "reason", FallbackReason.BACKEND_REFUSED, 1),
                    sample("handoff_fallback_total", "service", s, "reason", FallbackReason.BACKEND_ACK_TIMEOUT, 1),
                    sample("handoff_fallback_total", "service", s, "reason", FallbackReason.ACK_MISMATCH, 2),
                    sample("handoff_fallback_total", "service", s, "reason", FallbackReason.BACKEND_UNAVAILABLE, 1))),
                    samples.nonZero(P + "hello_total", P + "handoff_total", P + "handoff_acks_total",
                            P + "handoff_fallback_total"));

            // Every series that counted was there, at 0, before its first event: rate() sees that event.
            assertEquals(countersAtStart.keySet(), counters(samples).keySet());
            assertEquals(Set.of(0.0), Set.copyOf(countersAtStart.values()));
            // Present, and zero: what did not happen is visible as 0, not as a missing series.
            assertEquals(0.0, samples.get(P + "handoff_acks_total", "service", s, "result", "malformed"));
            for (String reason : List.of(FallbackReason.CLIENT_UNSUPPORTED, FallbackReason.SERVICE_POLICY_DISABLED,
                    FallbackReason.FD_PRESSURE, FallbackReason.RATE_LIMITED, FallbackReason.PERMISSION_DENIED)) {
                assertEquals(0.0, samples.get(P + "handoff_fallback_total", "service", s, "reason", reason), reason);
            }
            // Timers: every Hello is timed under its (bounded) service label; only the accepted handoff.
            assertEquals(7.0, samples.get(P + "hello_duration_seconds_count", "service", s));
            assertEquals(2.0, samples.get(P + "hello_duration_seconds_count", "service", "unknown"));
            assertEquals(1.0, samples.get(P + "handoff_duration_seconds_count", "service", s));
            // Gauges: nothing pending once every verdict is in; no client connection is left open.
            assertEquals(0.0, samples.get(P + "handoff_tokens_pending"));
            assertEquals(0.0, samples.get(P + "handoff_deliveries_queued"));
            assertEquals(0.0, samples.get(P + "connections_open"));
            assertEquals(1.0, samples.get(P + "active_backends", "service", s));
            assertEquals(0.0, samples.get(P + "hello_memory_bytes"));
            // A Hello announced at 64 KiB and stalled after 30 KiB holds its buffer (grown to 32 KiB)
            // beyond the first kilobyte, and gives it back when its client goes.
            try (RawClient stalled = RawClient.connect(broker.socket())) {
                stalled.send(RawClient.header(WireProtocol.MAX_HELLO_BODY)).send(new byte[30 * 1024]);
                awaitGauge(broker, "hello_memory_bytes", bytes -> bytes >= 29 * 1024);
            }
            awaitGauge(broker, "hello_memory_bytes", bytes -> bytes == 0);
            // What the scripted backend kept, it lets go: then the process is back where it started.
            backend.releaseHeldDescriptors();
            OpenDescriptors.awaitAtMost(started, Duration.ofSeconds(5));
        }
        LiveThreads.awaitGone(threadsBefore, Duration.ofSeconds(10), "broker-", "backend-", "scripted-");
    }

    private static Map.Entry<String, Double> sample(String name, String k1, String v1, String k2, String v2,
            double value) {
        return Map.entry(PrometheusSamples.key(P + name, k1, v1, k2, v2), value);
    }

    private static Map.Entry<String, Double> sample(String name, String k1, String v1, String k2, String v2,
            String k3, String v3, double value) {
        return Map.entry(PrometheusSamples.key(P + name, k1, v1, k2, v2, k3, v3), value);
    }

    private static Map<String, Double> counters(PrometheusSamples samples) {
        Map<String, Double> counters = new TreeMap<>();
        for (String name : List.of("hello_total", "handoff_total", "handoff_acks_total", "handoff_fallback_total")) {
            counters.putAll(samples.all(P + name));
        }
        return counters;
    }

    private static void awaitGauge(RunningBroker broker, String name, DoublePredicate expected) {
        double[] last = {Double.NaN};
        boolean reached = RecordingHandoffEvents.awaitTrue(() -> {
            try {
                last[0] = PrometheusSamples.parse(broker.scrape()).get(P + name);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return expected.test(last[0]);
        }, Duration.ofSeconds(5));
        assertTrue(reached, name + " stayed at " + last[0]);
    }

    /**
     * Scrapes until the Hello and ACK totals reach what was sent and no client
     * connection is open any more (8 s at most), then returns that scrape.
     */
    private static PrometheusSamples awaitScrape(RunningBroker broker, int hellos, int acks) throws Exception {
        PrometheusSamples[] last = new PrometheusSamples[1];
        RecordingHandoffEvents.awaitTrue(() -> {
            try {
                last[0] = PrometheusSamples.parse(broker.scrape());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return last[0].sum(P + "hello_total") >= hellos && last[0].sum(P + "handoff_acks_total") >= acks
                    && last[0].get(P + "connections_open") == 0;
        }, Duration.ofSeconds(8));
        return last[0];
    }
}
