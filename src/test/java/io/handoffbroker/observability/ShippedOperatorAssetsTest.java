package io.handoffbroker.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.testing.PrometheusSamples;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator assets shipped in {@code config/} (the Grafana dashboard, the
 * Prometheus alert rules and their unit tests) query the broker's series by name.
 * Every name they use must be in a scrape of the running application as it starts
 * with its defaults: a name that is not would leave a panel empty, or an alert
 * that never fires, without anyone noticing.
 */
class ShippedOperatorAssetsTest {

    private static final Pattern SERIES = Pattern.compile("running_process_broker_v1_[a-z0-9_]+");
    private static final List<String> ASSETS = List.of("config/grafana-dashboard.json",
            "config/prometheus-alerts.yml", "config/prometheus-alerts-test.yml");

    @TempDir
    Path dir;

    @Test
    void everyBrokerSeriesTheShippedDashboardAndAlertsQueryIsInTheScrape() throws Exception {
        try (RunningBroker broker = RunningBroker.start(dir.resolve("broker.sock"))) {
            Set<String> scraped = PrometheusSamples.parse(broker.scrape()).names();
            for (String asset : ASSETS) {
                Set<String> used = seriesIn(Path.of(asset));
                assertThat(used).as("%s queries the broker's series", asset).isNotEmpty();
                // A histogram is named by its family in prose: its series are the family's _count and others.
                assertThat(used).as("series %s names", asset)
                        .allSatisfy(name -> assertThat(scraped).containsAnyOf(name, name + "_count"));
            }
        }
    }

    private static Set<String> seriesIn(Path asset) throws Exception {
        Set<String> names = new TreeSet<>();
        Matcher m = SERIES.matcher(Files.readString(asset));
        while (m.find()) {
            names.add(m.group());
        }
        return names;
    }
}
