package io.handoffbroker.examples;

import io.handoffbroker.client.BrokerClient;
import io.handoffbroker.client.BrokerRefusedException;
import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** A client of the upper service. */
public final class UpperCaseClient {

    /** The backend's answer, and how the connection reached the backend. */
    public record Answer(String text, Route route, String fallbackReason) {
    }

    /** Sends one line to the upper service, version 1.0.0, and reads the answer. */
    public static Answer ask(BrokerClient broker, String line) throws IOException {
        try (ServiceConnection connection = broker.connect("upper", "1.0.0")) {
            connection.socket().setSoTimeout(5_000); // reads on the connection otherwise wait for ever
            connection.out().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            BufferedReader in = new BufferedReader(new InputStreamReader(connection.in(), StandardCharsets.UTF_8));
            return new Answer(in.readLine(), connection.route(), connection.fallbackReason());
        }
    }

    /** Argument: the broker's socket. */
    public static void main(String[] args) throws IOException {
        BrokerClient broker = new BrokerClient(Path.of(args[0])); // asks for a handoff
        try {
            System.out.println(ask(broker, "hello"));
        } catch (BrokerRefusedException refused) {
            System.err.println("refused: " + refused.getMessage()); // code, reason and retry hint
            System.exit(3);
        }
    }
}
