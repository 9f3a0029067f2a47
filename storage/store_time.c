/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_time.c — points in time as users type them for a query's range
 * (`ember report --from -1h --to now`, the web API's from and to):
 * relative forms, Unix seconds, RFC 3339 and "YYYY-MM-DD HH:MM:SS" in
 * local time. Turns text into Unix seconds; it does not touch the
 * database. Also the bucket arithmetic the backends share
 * (store_formats.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "storage.h"
#include "store_formats.h"

/* 0001-01-01 is out; 1970-01-01 .. 9999-12-31T23:59:59Z is in. */
#define TIME_MAX_S 253402300799LL

static int time_error(char **ret_error, const char *text, const char *why)
{
	char *msg;

	if (asprintf(&msg, "cannot read time '%s': %s", text, why) < 0)
		return -ENOMEM;
	if (ret_error)
		*ret_error = msg;
	else
		free(msg);
	return -EINVAL;
}

/* "1h30m" -> seconds; returns -1 on a malformed duration. */
static int64_t parse_duration(const char *s)
{
	int64_t total = 0;

	if (!*s)
		return -1;
	while (*s) {
		int64_t n = 0, unit;

		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9') {
			n = n * 10 + (*s++ - '0');
			if (n > TIME_MAX_S)
				return -1;
		}
		switch (*s++) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -1;
		}
		total += n * unit;
		if (total > TIME_MAX_S)
			return -1;
	}
	return total;
}

/* Read exactly n digits. */
static bool digits(const char **s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*ret = v;
	return true;
}

static int parse_date(const char *text, int64_t *ret_s, char **ret_error)
{
	const char *s = text;
	struct tm tm = { 0 };
	int year, mon, day, hh = 0, mm = 0, ss = 0, oh, om;
	bool zone = false;
	int64_t offset = 0, t;

	if (!digits(&s, 4, &year) || *s++ != '-' || !digits(&s, 2, &mon) ||
	    *s++ != '-' || !digits(&s, 2, &day))
		return time_error(ret_error, text, "expected YYYY-MM-DD");
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (!digits(&s, 2, &hh) || *s++ != ':' || !digits(&s, 2, &mm))
			return time_error(ret_error, text,
					  "expected HH:MM after the date");
		if (*s == ':') {
			s++;
			if (!digits(&s, 2, &ss))
				return time_error(ret_error, text,
						  "expected seconds after "
						  "HH:MM:");
			/* RFC 3339 fractions: whole seconds are enough. */
			if (*s == '.')
				for (s++; *s >= '0' && *s <= '9'; s++)
					;
		}
		if (*s == 'Z' || *s == 'z') {
			zone = true;
			s++;
		} else if (*s == '+' || *s == '-') {
			int sign = *s++ == '-' ? -1 : 1;

			if (!digits(&s, 2, &oh) || *s++ != ':' ||
			    !digits(&s, 2, &om) || oh > 23 || om > 59)
				return time_error(ret_error, text,
						  "expected a zone like "
						  "+02:00");
			zone = true;
			offset = sign * (oh * 3600 + om * 60);
		}
	}
	if (*s)
		return time_error(ret_error, text,
				  "unexpected text after the time");
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 ||
	    mm > 59 || ss > 60)
		return time_error(ret_error, text,
				  "a field is out of range");
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	tm.tm_isdst = -1;
	t = zone ? (int64_t)timegm(&tm) - offset : (int64_t)mktime(&tm);
	/* mktime normalizes Feb 30 into March: refuse what moved. */
	if (tm.tm_mday != day || tm.tm_mon != mon - 1)
		return time_error(ret_error, text, "no such date");
	*ret_s = t;
	return 0;
}

int store_time_parse(const char *text, int64_t now_s, int64_t *ret_s,
		     char **ret_error)
{
	const char *s = text;
	int64_t t = 0, d;
	int r;

	if (!text || !ret_s)
		return -EINVAL;
	if (!*s)
		return time_error(ret_error, text, "empty");
	if (!strncmp(s, "now", 3)) {
		s += 3;
		if (!*s) {
			t = now_s;
			goto check;
		}
		if (*s != '-')
			return time_error(ret_error, text,
					  "expected 'now' or 'now-DURATION' "
					  "like now-1h");
	}
	if (*s == '-') {
		d = parse_duration(s + 1);
		if (d < 0)
			return time_error(ret_error, text,
					  "expected a duration like -15m, "
					  "-1h, -2d or -1h30m (units s, m, "
					  "h, d, w)");
		t = now_s - d;
		goto check;
	}
	if (strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 12)
			return time_error(ret_error, text,
					  "Unix seconds after the year 9999");
		t = strtoll(s, NULL, 10);
		goto check;
	}
	if (strlen(s) >= 10 && s[4] == '-') {
		r = parse_date(text, &t, ret_error);
		if (r < 0)
			return r;
		goto check;
	}
	return time_error(ret_error, text,
			  "use Unix seconds, YYYY-MM-DD[ HH:MM:SS], RFC 3339 "
			  "(2024-05-01T12:00:00Z), now, or -DURATION like "
			  "-1h");
check:
	if (t < 0 || t > TIME_MAX_S)
		return time_error(ret_error, text,
				  "before 1970 or after the year 9999");
	*ret_s = t;
	return 0;
}

int64_t store_time__floor(int64_t t, int64_t step)
{
	int64_t r = t % step;

	return r < 0 ? t - r - step : t - r;
}

int64_t store_time__auto_step(int64_t span)
{
	static const int64_t nice[] = {
		10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600,
		12 * 3600, 86400,
	};

	for (size_t i = 0; i < ARRAY_SIZE(nice); i++)
		if (span / nice[i] < 500)
			return nice[i];
	return (span / 500 / 86400 + 1) * 86400;
}
