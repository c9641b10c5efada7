package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.testing.RecordingHandoffEvents;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class ThrottledWarningTest {

    private record Warned(String event, long count) {
    }

    @Test
    void theFirstEventWarnsAtOnceAndABurstThatStopsIsWarnedOfWholeWhenTheIntervalEnds() throws Exception {
        ThrottledWarning warning = new ThrottledWarning(Duration.ofMillis(300));
        List<Warned> warned = new CopyOnWriteArrayList<>();
        for (int i = 1; i <= 5; i++) {
            String event = "event " + i;
            warning.count(count -> warned.add(new Warned(event, count)));
        }
        assertThat(warned).containsExactly(new Warned("event 1", 1));
        // Nothing more comes: the four held back are still told of, with the last one's warning.
        assertThat(RecordingHandoffEvents.awaitTrue(() -> warned.size() == 2, Duration.ofSeconds(5))).isTrue();
        assertThat(warned.get(1)).isEqualTo(new Warned("event 5", 4));
        Thread.sleep(400); // another interval: nothing is left to tell
        assertThat(warned).hasSize(2);
    }

    @Test
    void anEventAfterTheIntervalWarnsAtOnceWithEveryOneHeldBackAndNothingIsToldTwice() throws Exception {
        ThrottledWarning warning = new ThrottledWarning(Duration.ofMillis(200));
        List<Warned> warned = new CopyOnWriteArrayList<>();
        warning.count(count -> warned.add(new Warned("first", count)));
        warning.count(count -> warned.add(new Warned("held back", count)));
        assertThat(RecordingHandoffEvents.awaitTrue(() -> warned.size() == 2, Duration.ofSeconds(5))).isTrue();
        long toldAt = System.nanoTime();
        warning.count(count -> warned.add(new Warned("soon after", count)));
        Thread.sleep(Math.max(0, 200 - Duration.ofNanos(System.nanoTime() - toldAt).toMillis()) + 50);
        warning.count(count -> warned.add(new Warned("after the interval", count)));
        // "soon after" was held back, then told of with the end of its interval, or with the event after it.
        assertThat(RecordingHandoffEvents.awaitTrue(() -> warned.stream().mapToLong(Warned::count).sum() == 4,
                Duration.ofSeconds(5))).isTrue();
        Thread.sleep(300);
        assertThat(warned.stream().mapToLong(Warned::count).sum()).as("every event told of once: %s", warned)
                .isEqualTo(4);
        assertThat(warned.subList(0, 2)).containsExactly(new Warned("first", 1), new Warned("held back", 1));
    }

    @Test
    void aSteadyFloodFromSeveralThreadsIsWarnedOfAtMostOncePerInterval() throws Exception {
        Duration interval = Duration.ofMillis(100);
        ThrottledWarning warning = new ThrottledWarning(interval);
        List<Long> counts = new CopyOnWriteArrayList<>();
        long started = System.nanoTime();
        long until = started + Duration.ofMillis(1_200).toNanos();
        Runnable flood = () -> {
            while (System.nanoTime() - until < 0) {
                warning.count(counts::add);
            }
        };
        Thread other = Thread.ofPlatform().start(flood);
        flood.run();
        other.join();
        long elapsed = System.nanoTime() - started;
        Thread.sleep(2 * interval.toMillis()); // the interval current at the end gives what it held back
        // An interval's end that ran just after an event had warned, and warned again, made about twice as many.
        assertThat(counts.size()).as("warnings in %d ms at most one per %s: %s", elapsed / 1_000_000, interval, counts)
                .isLessThanOrEqualTo((int) (elapsed / interval.toNanos()) + 2);
    }
}
