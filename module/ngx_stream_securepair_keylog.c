
/*
 * ngx_stream_securepair_module: securepair_keylog, the secrets of every
 * handshake in the NSS key log format (Node's 'keylog' event; nginx's
 * open-source stream ssl has nothing like it), for decrypting a capture
 * while debugging.
 *
 * The file is opened once, by the master at configuration time, with
 * O_APPEND, and created 0600: the workers inherit the descriptor, so a
 * worker that runs as another user still writes it, and each line is one
 * write(2), which O_APPEND keeps whole among the workers.  No fsync: a
 * line costs the handshake one system call into the page cache.
 */


#include "ngx_stream_securepair_module.h"


typedef struct {
    ngx_fd_t                   fd;
    u_char                    *name;
    ngx_uint_t                 failed;        /* unsigned  failed:1; */
} ngx_stream_securepair_keylog_t;


static void ngx_stream_securepair_keylog_line(sp_pair *pair,
    const char *line, size_t len, void *arg);
static void ngx_stream_securepair_keylog_close(void *data);


ngx_int_t
ngx_stream_securepair_keylog(ngx_conf_t *cf,
    ngx_stream_securepair_srv_conf_t *conf)
{
    char                            *path;
    ngx_err_t                        err;
    ngx_file_info_t                  fi;
    ngx_pool_cleanup_t              *cln;
    ngx_stream_securepair_file_t    *f;
    ngx_stream_securepair_keylog_t  *kl;

    if (conf->keylog == NULL) {
        return NGX_OK;
    }

    f = conf->keylog->elts;

    path = ngx_stream_securepair_path(cf, &f->name);
    if (path == NULL) {
        return NGX_ERROR;
    }

    kl = ngx_pcalloc(cf->pool, sizeof(ngx_stream_securepair_keylog_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (kl == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    kl->fd = ngx_open_file(path, NGX_FILE_APPEND, NGX_FILE_CREATE_OR_OPEN,
                           0600);

    if (kl->fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "securepair: cannot open key log \"%s\" (%s) in %s:%ui",
                      path, strerror(err), f->file, f->line);
        return NGX_ERROR;
    }

    kl->name = (u_char *) path;

    cln->handler = ngx_stream_securepair_keylog_close;
    cln->data = kl;

    ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                  "securepair: key logging to \"%s\" is on: whoever reads "
                  "it can decrypt this server's connections in %s:%ui",
                  path, f->file, f->line);

    /* a file made before, by hand, keeps its mode: say when it is open */
    if (ngx_fd_info(kl->fd, &fi) != NGX_FILE_ERROR
        && (fi.st_mode & (S_IRWXG | S_IRWXO)))
    {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "securepair: key log \"%s\" is open to other users "
                      "(chmod 600) in %s:%ui", path, f->file, f->line);
    }

    if (sp_ctx_set_keylog(conf->ctx, ngx_stream_securepair_keylog_line, kl)
        != SP_OK)
    {
        return ngx_stream_securepair_error(cf, sp_ctx_error_info(conf->ctx),
                                           f->file, f->line);
    }

    return NGX_OK;
}


/* One line and its newline in one writev(): whole, among the workers. */
static void
ngx_stream_securepair_keylog_line(sp_pair *pair, const char *line,
    size_t len, void *arg)
{
    ngx_stream_securepair_keylog_t  *kl = arg;

    ssize_t       n;
    struct iovec  iov[2];

    iov[0].iov_base = (void *) line;
    iov[0].iov_len = len;
    iov[1].iov_base = "\n";
    iov[1].iov_len = 1;

    n = writev(kl->fd, iov, 2);

    if (n == (ssize_t) len + 1 || kl->failed) {
        return;
    }

    /* said once per worker: a full disk must not flood the error log */
    kl->failed = 1;

    ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, n == -1 ? ngx_errno : 0,
                  "securepair: writing key log \"%s\" failed (%z of %uz "
                  "bytes); later failures are not logged", kl->name, n,
                  len + 1);
}


static void
ngx_stream_securepair_keylog_close(void *data)
{
    ngx_stream_securepair_keylog_t  *kl = data;

    if (kl->fd != NGX_INVALID_FILE && ngx_close_file(kl->fd) == NGX_FILE_ERROR)
    {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", kl->name);
    }
}
