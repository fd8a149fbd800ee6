/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "assay-store.h"

G_BEGIN_DECLS

/*
 * AssayLocalStore: the AssayStore on a directory of one machine, for a newcomer without
 * a cloud account. A client and any number of worker processes may use one directory at
 * once; every write is crash-safe (a kill -9 leaves each object and item old or new) and
 * conditional writes on one item are serialised across processes, so the protocol's
 * claims and fenced writes mean what they mean on DynamoDB.
 *
 * Layout under the directory (all created 0700 by init):
 *
 *   store.json                  {"format": "assay-local-store", "version": 1}
 *   locks/objects.lock          byte-range (OFD) locks, one byte per key's hash
 *   locks/jobs.lock, locks/results.lock
 *   objects/<key>               a symbolic link to the current version, so the key's
 *                               path reads as the object's bytes (`xz -dc` works)
 *   objects/<dir>/.<name>~<v>       that version's bytes (immutable)
 *   objects/<dir>/.<name>~<v>.meta  its size, MD5 etag, time and user metadata (JSON)
 *   tables/jobs/<id>.json       one item in DynamoDB attribute-value form
 *   tables/results/<id>.json
 *
 * A key is made of '/'-separated segments; absolute keys, empty, "." and ".." segments,
 * segments that start with '.' (the store's own files), control characters and keys
 * longer than 1024 bytes are refused with ASSAY_STORE_ERROR_INVALID. A key cannot be
 * both an object and the prefix of another ("a" and "a/b"), unlike on S3.
 */

#define ASSAY_TYPE_LOCAL_STORE (assay_local_store_get_type ())
G_DECLARE_FINAL_TYPE (AssayLocalStore, assay_local_store, ASSAY, LOCAL_STORE, GObject)

AssayLocalStore *assay_local_store_new          (const char      *dir);
const char      *assay_local_store_get_dir      (AssayLocalStore *self);
char            *assay_local_store_default_dir  (void);

G_END_DECLS
