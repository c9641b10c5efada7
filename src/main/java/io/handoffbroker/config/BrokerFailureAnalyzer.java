package io.handoffbroker.config;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;

/**
 * Reports a {@link BrokerStartupException} the way Spring Boot reports a configuration it
 * cannot bind: a description and an action, without the stack trace of the bean that
 * happened to find it. First among the analyzers, so that a Spring failure it wraps (the
 * unbound keys of a misspelt setting) is reported in the broker's words.
 */
@Order(Ordered.HIGHEST_PRECEDENCE)
final class BrokerFailureAnalyzer extends AbstractFailureAnalyzer<BrokerStartupException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, BrokerStartupException cause) {
        return new FailureAnalysis(cause.getMessage(), cause.action(), cause);
    }
}
