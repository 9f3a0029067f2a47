/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.c — `ember record`: profile a command and its descendants, a set of
 * processes, or the whole system, into an SQLite database, then print one
 * summary on stderr. With a command, ember exits with the command's own
 * status so a CI job keeps its meaning.
 *
 * Order of work, chosen so that a failure leaves nothing behind that looks
 * like a recording: check the flags and pids, load the sampler (the step that
 * needs root), create the database, start the command held at a pipe, track
 * it, let it exec; flush every --flush seconds; on exit or signal, a final
 * flush and the metadata that marks the file complete. The options are
 * parsed in record_args.c, the closing summary printed by record_summary.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "ember_config.h"
#include "record_args.h"
#include "record_summary.h"
#include "session.h"


static volatile sig_atomic_t got_stop_signal;
static volatile sig_atomic_t got_sigchld;

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_sigchld = 1;
	else
		got_stop_signal = sig;
}


/*
 * --repeat: the labels of run number run (--label's, then run=N). Runs
 * continue the numbering of the runs a file --append'ed to holds.
 */
static void set_run_labels(struct record_args *a, struct session *s, unsigned run)
{
	snprintf(a->run_labels, sizeof(a->run_labels), "%s%srun=%u", a->labels,
		 a->labels[0] ? "," : "", run);
	session__set_extra_labels(s, a->run_labels);
}

static unsigned runs_in_file(struct store_db *db)
{
	struct store_label_value *v = NULL;
	struct store_query q;
	unsigned most = 0;
	size_t n = 0;

	store_query_init(&q);
	if (store_db__label_values(db, &q, "run", &v, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned long r = strtoul(v[i].value, NULL, 10);

		if (r > most && r < 1000000)
			most = (unsigned)r;
	}
	store_label_values_free(v, n);
	return most;
}

/* A zombie has exited: it only waits for its parent to reap it. */
static bool pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	if (kill(pid, 0) != 0 && errno != EPERM)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

/*
 * Fork the command, held before exec until released. The child reports an
 * exec failure through err_fd (close-on-exec: EOF means exec succeeded).
 */
static int spawn_held(char **argv, pid_t *ret_pid, int *ret_go_fd, int *ret_err_fd)
{
	int go[2], errp[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		close(errp[0]);
		close(errp[1]);
		return err;
	}
	if (pid == 0) {
		char c;
		int e;

		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		close(go[1]);
		close(errp[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127); /* ember went away before releasing us */
		execvp(argv[0], argv);
		e = errno;
		if (write(errp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(e == ENOENT ? 127 : 126);
	}
	close(go[0]);
	close(errp[1]);
	*ret_pid = pid;
	*ret_go_fd = go[1];
	*ret_err_fd = errp[0];
	return 0;
}

static void join_command(char **argv, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; argv && argv[i] && n + 1 < size; i++)
		n += snprintf(buf + n, size - n, "%s%s", i ? " " : "", argv[i]);
}


static uint64_t timeval_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ULL + (uint64_t)tv->tv_usec * 1000ULL;
}

static void add_usage(struct rusage *sum, const struct rusage *u)
{
	timeradd(&sum->ru_utime, &u->ru_utime, &sum->ru_utime);
	timeradd(&sum->ru_stime, &u->ru_stime, &sum->ru_stime);
}

/*
 * Start the command held at a pipe, track it, release it to exec. Returns 0
 * and *ret_child, EXIT_RUNTIME after an error message, or the shell's status
 * for a command that could not be executed (127 not found, 126 otherwise).
 */
static int start_command(const struct record_args *a, struct session *s, pid_t *ret_child)
{
	int go_fd = -1, err_fd = -1, exec_errno = 0, err, status = EXIT_RUNTIME;
	pid_t child = -1;
	ssize_t r;

	err = spawn_held(a->command, &child, &go_fd, &err_fd);
	if (err) {
		cli_error("cannot start '%s': %s", a->command[0], strerror(-err));
		return EXIT_RUNTIME;
	}
	if (!a->all) {
		err = session__track(s, child);
		if (err) {
			cli_error("cannot track the command (pid %d): %s", child, strerror(-err));
			goto kill_child;
		}
	}
	if (write(go_fd, "g", 1) != 1) {
		cli_error("cannot release the command: %s", strerror(errno));
		goto kill_child;
	}
	close(go_fd);
	do
		r = read(err_fd, &exec_errno, sizeof(exec_errno));
	while (r < 0 && errno == EINTR);
	close(err_fd);
	if (r == sizeof(exec_errno)) {
		waitpid(child, NULL, 0);
		cli_error("cannot run '%s': %s%s", a->command[0], strerror(exec_errno),
			  exec_errno == ENOENT ? " (check the command name and PATH)" : "");
		return exec_errno == ENOENT ? 127 : 126;
	}
	*ret_child = child;
	return 0;

kill_child:
	close(go_fd);
	close(err_fd);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return status;
}

static int exit_status_of(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return EXIT_RUNTIME;
}

/* One recording: its options, its session and file, and the command's
 * state between the steps of cmd_record. */
struct recording {
	struct record_args a;
	struct session *s;
	struct store_db *db;
	pid_t child;            /* the command's current run, -1 without one */
	int wstatus;            /* its wait status once child_done */
	bool child_done;
	bool forwarded;         /* a stop signal was passed on to the command */
	bool flush_failed;      /* writing fails; warned once until it resumes */
	unsigned runs;          /* runs of the command started */
	unsigned first_run;     /* the run= number of the first (--append) */
	uint64_t start_ns;
	uint64_t deadline_ns;   /* --duration, 0 without */
	uint64_t failed_flushes;
	struct rusage child_usage; /* of the runs reaped */
};

static void install_signals(void)
{
	struct sigaction sa = {0};

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
}

/* The session with record's options; 0, or EXIT_RUNTIME after a message. */
static int start_session(struct recording *r)
{
	const struct record_args *a = &r->a;
	struct session_options so = {0};
	int err;

	so.freq_hz = a->freq;
	so.filter = a->all ? SAMPLER_FILTER_ALL
		  : a->command ? SAMPLER_FILTER_TREE : SAMPLER_FILTER_PIDS;
	so.include_idle = a->idle;
	so.flush_seconds = a->flush_s;
	so.stack_map_entries = a->stack_entries;
	so.counts_map_entries = a->counts_entries;
	so.unwind = a->unwind;
	so.no_python = a->no_python;
	so.snapshot_bytes = a->snapshot_bytes;
	so.bpf_path_stats = a->bpf_path_stats;
	so.sym.no_demangle = a->no_demangle;
	so.sym.max_memory = a->symbolizer_mb << 20;
	so.sym.cache_dir = a->cache_dir;
	so.extra_labels = a->labels[0] ? a->labels : NULL;
	err = session__new(&so, &r->s);
	if (err) {
		session_explain_error(err, "record", NULL);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* The metadata that says what is being recorded, status "recording"
 * until record_finish marks the file complete. */
static void write_start_meta(struct recording *r)
{
	const struct record_args *a = &r->a;
	struct store_db *db = r->db;
	char cmdline[4096], *first = NULL;
	unsigned long long now_s = common_wall_ns() / 1000000000ULL;

	join_command(a->command, cmdline, sizeof(cmdline));
	store_db__set_meta(db, "status", "recording");
	store_db__set_meta(db, "ember_version", EMBER_VERSION);
	store_db__set_metaf(db, "frequency_hz", "%u", a->freq);
	/* --append keeps the first start; each run notes its own. */
	if (!a->append || store_db__get_meta(db, "start_time", &first) < 0)
		store_db__set_metaf(db, "start_time", "%llu", now_s);
	free(first);
	store_db__set_metaf(db, "run_start_time", "%llu", now_s);
	store_db__set_metaf(db, "target", "%s", a->command ? "command" : a->all ? "system" : "pids");
	if (a->command)
		store_db__set_meta(db, "command", cmdline);
}

/*
 * In the file just opened: note what is recorded, track the pids and start
 * the command. Returns 0; EXIT_RUNTIME after a message; or the shell's
 * status (126, 127) for a command that could not be executed.
 */
static int record_start(struct recording *r)
{
	int err, status;

	session__set_store(r->s, r->db);
	if (r->a.repeat > 1) {
		if (r->a.append)
			r->first_run += runs_in_file(r->db);
		set_run_labels(&r->a, r->s, r->first_run);
	}
	write_start_meta(r);
	for (size_t i = 0; i < r->a.n_pids; i++) {
		err = session__track(r->s, r->a.pids[i]);
		if (err) {
			cli_error("cannot track pid %d: %s", r->a.pids[i], strerror(-err));
			return EXIT_RUNTIME;
		}
	}
	if (r->a.command) {
		status = start_command(&r->a, r->s, &r->child);
		if (status)
			return status;
		r->runs = 1;
	}
	r->start_ns = common_now_ns();
	if (r->a.duration_s)
		r->deadline_ns = r->start_ns + r->a.duration_s * 1000000000ULL;
	return 0;
}

/* The command's run ended: with --repeat, flush it under its label and
 * start the next, unless it failed or we were asked to stop. */
static void next_run(struct recording *r)
{
	int err, st;

	if (r->runs >= r->a.repeat || exit_status_of(r->wstatus) != 0 || r->forwarded ||
	    got_stop_signal)
		return;
	/* Every sample of the run that ended is in the kernel's maps now:
	 * drained under its label, the next run gets its own. */
	err = session__flush(r->s);
	if (err && err != -EINTR)
		cli_warn("flush between runs: %s",
			 session__flush_error(r->s) ? session__flush_error(r->s) : strerror(-err));
	set_run_labels(&r->a, r->s, r->first_run + r->runs);
	st = start_command(&r->a, r->s, &r->child);
	if (st) {
		r->wstatus = st << 8; /* as if the run exited st */
	} else {
		r->runs++;
		r->child_done = false;
	}
}

/* Warn once when writing starts failing, and again when it resumes. */
static void watch_writes(struct recording *r, int err)
{
	struct session_totals totals;

	if (err && err != -EINTR && !r->flush_failed) {
		cli_warn("%s; sampling goes on, and writing is tried again at each flush",
			 session__flush_error(r->s) ? session__flush_error(r->s) : strerror(-err));
		r->flush_failed = true;
		session__totals(r->s, &totals);
		r->failed_flushes = totals.flushes;
	} else if (!err && r->flush_failed) {
		session__totals(r->s, &totals);
		if (totals.flushes > r->failed_flushes) {
			cli_warn("writing to %s resumed; %llu samples of %llu failed "
				 "flushes were lost (counted as database-write-failed)",
				 r->a.output, (unsigned long long)totals.samples_lost_store,
				 (unsigned long long)totals.flush_errors);
			r->flush_failed = false;
		}
	}
}

/* Whether the recording should end now: the command ended (every run),
 * --duration passed, every -p process is gone, or a signal. */
static bool should_stop(struct recording *r)
{
	struct rusage usage;

	if (got_stop_signal) {
		if (r->child <= 0 || r->child_done || r->forwarded)
			return true;
		/* Let the command end its own way; we stop when it does. */
		kill(r->child, got_stop_signal);
		r->forwarded = true;
		got_stop_signal = 0;
	}
	if (r->child > 0 && !r->child_done &&
	    wait4(r->child, &r->wstatus, WNOHANG, &usage) == r->child) {
		r->child_done = true;
		add_usage(&r->child_usage, &usage);
		next_run(r);
	}
	if (r->child_done)
		return true;
	if (r->deadline_ns && common_now_ns() >= r->deadline_ns)
		return true;
	if (r->a.n_pids) {
		for (size_t i = 0; i < r->a.n_pids; i++)
			if (pid_alive(r->a.pids[i]))
				return false;
		return true;
	}
	return false;
}

/* The final flush, the metadata that marks the file complete, the
 * summary; returns ember's exit status. */
static int record_finish(struct recording *r)
{
	struct session_totals totals;
	struct store_db *db = r->db;
	int err;

	session__stop(r->s);
	err = session__flush(r->s);
	if (err && err != -EINTR)
		cli_warn("final flush: %s",
			 session__flush_error(r->s) ? session__flush_error(r->s) : strerror(-err));
	session__totals(r->s, &totals);
	store_db__set_metaf(db, "duration_ns", "%llu",
			    (unsigned long long)(common_now_ns() - r->start_ns));
	if (r->child > 0 && r->child_done) {
		store_db__set_metaf(db, "exit_status", "%d", exit_status_of(r->wstatus));
		store_db__set_metaf(db, "runs", "%u", r->runs);
		/* CPU time of the command and its reaped descendants. */
		store_db__set_metaf(db, "command_cpu_ns", "%llu",
			     (unsigned long long)(timeval_ns(&r->child_usage.ru_utime) +
						  timeval_ns(&r->child_usage.ru_stime)));
	}
	session__write_accounting(r->s, db);
	store_db__set_meta(db, "status", totals.flush_errors ? "incomplete" : "complete");
	/* One file to hand on, not three. */
	cli_seal_db(db, r->a.output);
	record_summary__print(&r->a, &totals, (common_now_ns() - r->start_ns) / 1e9);

	if (r->child <= 0)
		return totals.flush_errors ? EXIT_RUNTIME : 0;
	if (!r->child_done) {
		/* Stopped by --duration or a second signal: the command still
		 * runs; its status is not ours to report. */
		kill(r->child, SIGTERM);
		waitpid(r->child, &r->wstatus, 0);
	}
	return exit_status_of(r->wstatus);
}

int cmd_record(int argc, char **argv)
{
	struct recording *r = calloc(1, sizeof(*r));
	int status;

	if (!r) {
		cli_error("out of memory");
		return EXIT_RUNTIME;
	}
	r->child = -1;
	r->first_run = 1;
	if (record_args__parse(argc, argv, &r->a)) {
		cli_usage_hint("record");
		status = EXIT_USAGE;
		goto out;
	}
	status = EXIT_USAGE;
	for (size_t i = 0; i < r->a.n_pids; i++) {
		if (!pid_alive(r->a.pids[i])) {
			cli_error("no process with pid %d; check the pid with 'ps -p %d'",
				  r->a.pids[i], r->a.pids[i]);
			goto out;
		}
	}
	/* Fail early, before anything is loaded or written. */
	status = EXIT_RUNTIME;
	if (cli_file_check(r->a.output, CLI_FILE_DATABASE, &r->a.files))
		goto out;
	install_signals();
	if (start_session(r))
		goto out;

	if (cli_db_open(r->a.output, STORE_OPEN_WRITE | (r->a.append ? 0 : STORE_OPEN_TRUNCATE),
			&r->a.files, &r->db, NULL))
		goto out;
	status = record_start(r);
	if (status) {
		store_db__close(r->db);
		r->db = NULL;
		/* A file we continued in holds earlier recordings: keep it. */
		if (!r->a.append)
			cli_remove_db(r->a.output);
		goto out;
	}
	while (!should_stop(r))
		watch_writes(r, session__run_once(r->s, 50));
	status = record_finish(r);
out:
	session__free(r->s);
	store_db__close(r->db);
	free(r);
	return status;
}
