package io.handoffbroker;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

@SpringBootApplication
public class HandoffBrokerApplication {
    public static void main(String[] args) {
        SpringApplication.run(HandoffBrokerApplication.class, args);
    }
}
