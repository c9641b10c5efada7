package io.handoffbroker.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads the broker's own meters from its actuator (Prometheus format, on loopback):
 * the time from accept to reply written per Hello, and from the Hello's decision to
 * the relay per handoff, as the broker itself measures them.
 */
final class Actuator {

    static final String HELLO = "running_process_broker_v1_hello_duration_seconds";
    static final String HANDOFF = "running_process_broker_v1_handoff_duration_seconds";

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private Actuator() {
    }

    /** A loopback port that was free a moment ago, for the broker's actuator. */
    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** Every sample of the service's series, summed per metric name ({@code ..._count}, {@code ..._sum}). */
    static Map<String, Double> scrape(int port, String service) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/actuator/prometheus"))
                .timeout(Duration.ofSeconds(5)).GET().build();
        HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("actuator answered " + response.statusCode());
        }
        Map<String, Double> sums = new HashMap<>();
        for (String line : response.body().split("\n")) {
            int brace = line.indexOf('{');
            if (line.startsWith("#") || brace < 0 || !line.contains("service=\"" + service + "\"")) {
                continue;
            }
            String value = line.substring(line.lastIndexOf(' ') + 1);
            try {
                sums.merge(line.substring(0, brace), Double.parseDouble(value), Double::sum);
            } catch (NumberFormatException ignored) {
                // Not a sample line.
            }
        }
        return sums;
    }

    /**
     * The mean of a timer between two scrapes, in microseconds, and how many it counts;
     * {@code {NaN, 0}} when nothing was recorded.
     */
    static double[] meanMicros(Map<String, Double> before, Map<String, Double> after, String timer) {
        double count = after.getOrDefault(timer + "_count", 0.0) - before.getOrDefault(timer + "_count", 0.0);
        double sum = after.getOrDefault(timer + "_sum", 0.0) - before.getOrDefault(timer + "_sum", 0.0);
        return count <= 0 ? new double[] {Double.NaN, 0} : new double[] {sum / count * 1e6, count};
    }
}
