package io.handoffbroker.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.handoff.AckResult;
import io.handoffbroker.handoff.FallbackReason;
import io.handoffbroker.testing.PrometheusSamples;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker scraped as soon as it has started, before any client: every counter series it can
 * increment is there at 0, so that {@code rate()} and {@code increase()} see the first event
 * (a series that first appears at 1 has no earlier sample to rise from, and an alert on the
 * first {@code internal} refusal would never fire). The set is exactly the one operations.md
 * lists, and it holds every label value the shipped alert rules and dashboard select.
 */
class SeriesAtZeroFromStartTest {

    private static final String P = "running_process_broker_v1_";
    private static final List<String> ANY_HELLO = List.of("rate_limited", "shutting_down", "peer_rejected",
            "version_unsupported");
    private static final Pattern SELECTED = Pattern.compile("(outcome|reason|result|route)(=~?)\\\\?\"([a-z_|]+)");

    @TempDir
    Path dir;

    @Test
    void everyCounterSeriesIsInTheFirstScrapeAtZero() throws Exception {
        Path b = dir.resolve("b");
        // Two services, one of them at two versions, one version without a handoff endpoint; the
        // backends need not run (nothing here depends on their being reachable).
        try (RunningBroker broker = RunningBroker.start(dir.resolve("s").resolve("broker.sock"),
                "--broker.demo.enabled=false",
                "--broker.services[0].name=billing", "--broker.services[0].version=2.4.1",
                "--broker.services[0].backend-endpoint=" + b.resolve("billing-241.sock"),
                "--broker.services[1].name=billing", "--broker.services[1].version=2.5.0",
                "--broker.services[1].backend-endpoint=" + b.resolve("billing-250.sock"),
                "--broker.services[1].handoff-endpoint=" + b.resolve("billing-250-handoff.sock"),
                "--broker.services[2].name=search", "--broker.services[2].version=1.0.0",
                "--broker.services[2].backend-endpoint=" + b.resolve("search.sock"))) {
            PrometheusSamples samples = PrometheusSamples.parse(broker.scrape());

            Map<String, Double> hellos = new TreeMap<>();
            for (String[] serviceVersion : new String[][] {{"billing", "2.4.1"}, {"billing", "2.5.0"},
                    {"search", "1.0.0"}}) {
                for (String outcome : concat(List.of("negotiated", "internal", "backend_spawn_failed"), ANY_HELLO)) {
                    hellos.put(hello(serviceVersion[0], serviceVersion[1], outcome), 0.0);
                }
            }
            for (String service : List.of("billing", "search")) {
                for (String outcome : concat(List.of("backend_spawn_failed", "version_blocked"), ANY_HELLO)) {
                    hellos.put(hello(service, "other", outcome), 0.0);
                }
            }
            for (String outcome : concat(List.of("service_unknown"), ANY_HELLO)) {
                hellos.put(hello("unknown", "other", outcome), 0.0);
            }
            assertThat(samples.all(P + "hello_total")).isEqualTo(hellos);

            Map<String, Double> handoffs = new TreeMap<>();
            for (String service : List.of("billing", "search")) {
                for (String route : List.of("handed_off", "fallback")) {
                    handoffs.put(PrometheusSamples.key(P + "handoff_total", "service", service, "route", route), 0.0);
                }
                for (AckResult result : AckResult.values()) {
                    handoffs.put(PrometheusSamples.key(P + "handoff_acks_total", "service", service, "result",
                            result.label()), 0.0);
                }
                for (String reason : FallbackReason.ALL) {
                    handoffs.put(PrometheusSamples.key(P + "handoff_fallback_total", "service", service, "reason",
                            reason), 0.0);
                }
            }
            Map<String, Double> scrapedHandoffs = new TreeMap<>(samples.all(P + "handoff_total"));
            scrapedHandoffs.putAll(samples.all(P + "handoff_acks_total"));
            scrapedHandoffs.putAll(samples.all(P + "handoff_fallback_total"));
            assertThat(scrapedHandoffs).isEqualTo(handoffs);
            assertThat(samples.all(P + "handoff_endpoint_peer_rejected_total")).isEqualTo(Map.of(
                    PrometheusSamples.key(P + "handoff_endpoint_peer_rejected_total", "service", "billing"), 0.0,
                    PrometheusSamples.key(P + "handoff_endpoint_peer_rejected_total", "service", "search"), 0.0));
            assertThat(samples.get(P + "peer_rejected_total")).isZero();
            assertThat(samples.get(P + "hello_timeouts_total")).isZero();
            Map<String, Double> undelivered = new TreeMap<>();
            for (String outcome : concat(List.of("negotiated", "internal", "backend_spawn_failed", "version_blocked",
                    "service_unknown"), ANY_HELLO)) {
                undelivered.put(PrometheusSamples.key(P + "hello_undelivered_total", "outcome", outcome), 0.0);
            }
            assertThat(samples.all(P + "hello_undelivered_total")).isEqualTo(undelivered);

            // Every label value an alert rule or a dashboard panel selects is among them, for every
            // configured service.
            Set<String> selected = selectedLabelValues();
            assertThat(selected).contains("outcome=internal", "outcome=backend_spawn_failed", "route=handed_off",
                    "result=late", "result=token_mismatch");
            Map<String, Double> all = new TreeMap<>(hellos);
            all.putAll(handoffs);
            for (String service : List.of("billing", "search")) {
                for (String labelValue : selected) {
                    String label = labelValue.substring(0, labelValue.indexOf('='));
                    String value = labelValue.substring(labelValue.indexOf('=') + 1);
                    assertThat(all.keySet()).as("%s for %s", labelValue, service)
                            .anyMatch(key -> key.contains(label + "=\"" + value + "\"")
                                    && key.contains("service=\"" + service + "\""));
                }
            }
        }
    }

    private static String hello(String service, String version, String outcome) {
        return PrometheusSamples.key(P + "hello_total", "service", service, "version", version, "outcome", outcome);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    /** {@code label=value} for every outcome, reason, result and route the shipped assets select. */
    private static Set<String> selectedLabelValues() throws Exception {
        Set<String> values = new TreeSet<>();
        for (String asset : List.of("config/prometheus-alerts.yml", "config/grafana-dashboard.json")) {
            Matcher m = SELECTED.matcher(Files.readString(Path.of(asset)));
            while (m.find()) {
                for (String value : m.group(3).split("\\|")) {
                    values.add(m.group(1) + "=" + value);
                }
            }
        }
        return values;
    }
}
