/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common-macros.h — the three macros every file of the project may use
 * (ARRAY_SIZE, MIN, MAX), in a header of their own so that the containers
 * (grow.c, map.c) need nothing else of common/.
 */
#pragma once

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
