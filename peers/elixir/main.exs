# The Elixir peer of taskmem: N processes (spawn_monitor, each in :timer.sleep(SLEEP_MS)), each
# awaited by receiving its :DOWN message, as in the published "1 million concurrent tasks"
# program. At the end it prints `done N spawn_ms=MS`: how long starting the N processes took.
#
# Usage: elixir --erl "+P LIMIT" main.exs N SLEEP_MS  (LIMIT > N: the BEAM's process limit)
usage = "(usage: elixir main.exs N SLEEP_MS)"

count = fn name, text ->
  case Integer.parse(text) do
    {v, ""} when v >= 0 ->
      v

    _ ->
      IO.puts(:stderr, "elixir/processes: #{name} '#{text}' is not a non-negative integer #{usage}")
      System.halt(2)
  end
end

case System.argv() do
  [n_text, ms_text] ->
    n = count.("N", n_text)
    ms = count.("SLEEP_MS", ms_text)
    start = System.monotonic_time(:millisecond)
    tasks = for _ <- 1..n//1, do: spawn_monitor(fn -> :timer.sleep(ms) end)
    spawn_ms = System.monotonic_time(:millisecond) - start

    for {_pid, ref} <- tasks do
      receive do
        {:DOWN, ^ref, _, _, _} -> :ok
      end
    end

    IO.puts("done #{n} spawn_ms=#{spawn_ms}")

  args ->
    IO.puts(:stderr, "elixir/processes: expected 2 arguments, got #{length(args)} #{usage}")
    System.halt(2)
end
