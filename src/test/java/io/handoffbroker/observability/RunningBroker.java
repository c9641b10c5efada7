package io.handoffbroker.observability;

import io.handoffbroker.HandoffBrokerApplication;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The application as operators run it, started with command-line arguments: its
 * broker socket in a test directory, the actuator on a free loopback port.
 */
final class RunningBroker implements AutoCloseable {

    private final ConfigurableApplicationContext context;
    private final Path socket;
    private final int port;

    private RunningBroker(ConfigurableApplicationContext context, Path socket) {
        this.context = context;
        this.socket = socket;
        this.port = ((WebServerApplicationContext) context).getWebServer().getPort();
    }

    /** Starts the application with its socket at {@code socket} and {@code args} on top. */
    static RunningBroker start(Path socket, String... args) {
        List<String> all = new ArrayList<>(List.of("--server.port=0", "--broker.socket-path=" + socket));
        all.addAll(List.of(args));
        return new RunningBroker(new SpringApplicationBuilder(HandoffBrokerApplication.class)
                .run(all.toArray(String[]::new)), socket);
    }

    ConfigurableApplicationContext context() {
        return context;
    }

    Path socket() {
        return socket;
    }

    /** GET on the actuator; any status. */
    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    String scrape() throws IOException, InterruptedException {
        HttpResponse<String> response = get("/actuator/prometheus");
        if (response.statusCode() != 200) {
            throw new IllegalStateException("/actuator/prometheus answered " + response.statusCode());
        }
        return response.body();
    }

    @Override
    public void close() {
        context.close();
    }
}
