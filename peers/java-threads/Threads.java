// The Java platform-threads peer of taskmem: N java.lang.Thread, each in Thread.sleep(SLEEP_MS),
// joined, as in the published "1 million concurrent tasks" program. One OS thread per task.
// At the end it prints `done N spawn_ms=MS`: how long starting the N threads took.
//
// Usage: java -cp BUILD Threads N SLEEP_MS
import java.util.ArrayList;
import java.util.List;

public class Threads {
    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) fail("expected 2 arguments, got " + args.length);
        int n = count("N", args[0]);
        long ms = count("SLEEP_MS", args[1]);

        long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Thread thread = new Thread(() -> {
                try {
                    Thread.sleep(ms);
                } catch (InterruptedException e) {
                }
            });
            thread.start();
            threads.add(thread);
        }
        long spawnMs = (System.nanoTime() - start) / 1_000_000;
        for (Thread thread : threads) {
            thread.join();
        }
        System.out.println("done " + n + " spawn_ms=" + spawnMs);
    }

    static int count(String name, String text) {
        try {
            int v = Integer.parseInt(text);
            if (v >= 0) return v;
        } catch (NumberFormatException e) {
        }
        fail(name + " '" + text + "' is not a non-negative integer");
        return 0;
    }

    static void fail(String msg) {
        System.err.println("java/threads: " + msg + " (usage: java Threads N SLEEP_MS)");
        System.exit(2);
    }
}
