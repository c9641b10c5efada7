package io.handoffbroker.testing;

import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The failed cases of a seeded run whose cases run side by side. Kept by case index, so that
 * the failure reported first is the same however the cases were scheduled. Thread-safe.
 */
public final class CaseFailures {

    private final ConcurrentSkipListMap<Integer, AssertionError> failures = new ConcurrentSkipListMap<>();

    /** Records a case's failure; a second one of the same case is kept in its first. */
    public void add(int index, AssertionError failure) {
        failures.merge(index, failure, (first, second) -> {
            first.addSuppressed(second);
            return first;
        });
    }

    /**
     * Throws one error when any case failed: how many of {@code cases}, which, and the first
     * one's message; every other failure is suppressed in it, with its own stack trace.
     */
    public void throwIfAny(int cases) {
        if (failures.isEmpty()) {
            return;
        }
        AssertionError first = failures.get(failures.firstKey());
        AssertionError all = new AssertionError(failures.size() + " of " + cases + " cases failed (cases "
                + failures.keySet() + "); first: " + first.getMessage(), first);
        failures.values().stream().skip(1).forEach(all::addSuppressed);
        throw all;
    }
}
