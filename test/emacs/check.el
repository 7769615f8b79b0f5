;;; check.el --- mmutrace in a real Emacs: eglot and dap-mode  -*- lexical-binding: t; -*-

;; Run by test/emacs/run.mjs as
;;   emacs --batch -Q -l check.el
;; with MMUTRACE_CLI (dist/cli.js), MMUTRACE_ADAPTER (dist/adapter.js),
;; MMUTRACE_TYPO (a trace with a typo) and MMUTRACE_TRACE (the seed example).
;; Part 1: eglot opens the trace with the typo and receives the diagnostic
;; from `mmutrace lsp --stdio'.  Part 2: a dap-mode session against
;; `node dist/adapter.js': stop on entry, step, step back, step, and read the
;; shadow walk.  Every check prints a line "ok: ..." or "FAIL: ..."; the exit
;; status is 0 only when every check passed.

(require 'package)
;; -Q skips Debian's site start files: name the directory of the elpa-* packages.
(add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
(package-initialize)
(require 'cl-lib)
(require 'subr-x)

(defvar mmt-failures 0)

(defun mmt-ok (what) (message "ok: %s" what))
(defun mmt-fail (what)
  (message "FAIL: %s" what)
  (setq mmt-failures (1+ mmt-failures)))
(defun mmt-check (cond what) (if cond (mmt-ok what) (mmt-fail what)) cond)

(defun mmt-wait (pred seconds what)
  "Let processes run until PRED holds, at most SECONDS; signal an error naming WHAT otherwise."
  (let ((deadline (+ (float-time) seconds)))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or (funcall pred) (error "timed out after %ss waiting for %s" seconds what))))

(defun mmt-get (obj &rest keys)
  "Follow KEYS (strings) through hash tables and plists."
  (dolist (k keys obj)
    (setq obj (cond ((hash-table-p obj) (gethash k obj))
                    ((and (listp obj) (keywordp (car-safe obj))) (plist-get obj (intern (concat ":" k))))
                    (t nil)))))

(define-derived-mode mmutrace-mode prog-mode "mmutrace" "A mode for .mmutrace files (for this test).")
(add-to-list 'auto-mode-alist '("\\.mmutrace\\'" . mmutrace-mode))

(defun mmt-env (name)
  (or (getenv name) (error "%s is not set" name)))

;; ---------------------------------------------------------------------------
;; Part 1: eglot and `mmutrace lsp --stdio'.

(defun mmt-eglot ()
  (require 'eglot)
  (require 'flymake)
  (let* ((cli (mmt-env "MMUTRACE_CLI"))
         (file (mmt-env "MMUTRACE_TYPO"))
         (project-find-functions (list (lambda (dir) (cons 'transient (file-name-directory (expand-file-name dir)))))))
    (add-to-list 'eglot-server-programs `(mmutrace-mode . ("node" ,cli "lsp" "--stdio")))
    (with-current-buffer (find-file-noselect file)
      (eglot '(mmutrace-mode) (project-current) 'eglot-lsp-server `("node" ,cli "lsp" "--stdio") "mmutrace")
      (mmt-wait (lambda () (eglot-current-server)) 30 "eglot to connect")
      (mmt-ok (format "eglot connected to %s" (mmt-get (eglot--server-info (eglot-current-server)) "name")))
      (mmt-wait (lambda ()
                  (flymake-start)
                  (accept-process-output nil 0.1)
                  (flymake-diagnostics))
                30 "the diagnostics of the typo")
      (let* ((d (car (flymake-diagnostics)))
             (text (flymake-diagnostic-text d))
             (line (line-number-at-pos (flymake-diagnostic-beg d))))
        (message "diagnostic: line %d: %s: %s" line (flymake-diagnostic-type d) text)
        (mmt-check (string-match-p "unknown keyword `raed'\\|unknown keyword `raed`" text) "the diagnostic names the typo")
        (mmt-check (string-match-p "did you mean `read`" text) "the diagnostic gives the hint")
        (mmt-check (= line 2) "the diagnostic is on line 2")
        (mmt-check (memq (flymake-diagnostic-type d) '(eglot-error :error)) "the diagnostic is an error"))
      (eglot-shutdown (eglot-current-server)))))

;; ---------------------------------------------------------------------------
;; Part 2: dap-mode and `node dist/adapter.js'.

(defvar mmt-stops 0)

(defun mmt-request (session command args)
  "Send a DAP request and wait for its response (a hash table)."
  (let (resp)
    (dap--send-message (dap--make-request command args) (lambda (r) (setq resp r)) session)
    (mmt-wait (lambda () resp) 30 (format "the response to %s" command))
    (unless (eq (mmt-get resp "success") t)
      (error "%s failed: %s" command (mmt-get resp "message")))
    (mmt-get resp "body")))

(defun mmt-top-line (session)
  "The line of the trace where the session stands (the innermost frame)."
  (let* ((tid (dap--debug-session-thread-id session))
         (frames (append (mmt-get (mmt-request session "stackTrace" (list :threadId tid)) "stackFrames") nil)))
    (cons (mmt-get (car (last frames)) "line") (mmt-get (car (last frames)) "id"))))

(defun mmt-step (session command)
  (let ((before mmt-stops))
    (if (string= command "next") (dap-next session) (dap--step command session))
    (mmt-wait (lambda () (> mmt-stops before)) 30 (format "the stop after %s" command))))

(defun mmt-dap ()
  (require 'dap-mode)
  (let ((adapter (mmt-env "MMUTRACE_ADAPTER"))
        (file (mmt-env "MMUTRACE_TRACE")))
    (dap-register-debug-provider "mmutrace" (lambda (conf) (plist-put conf :dap-server-path (list "node" adapter))))
    (add-hook 'dap-stopped-hook (lambda (_s) (setq mmt-stops (1+ mmt-stops))))
    (dap-debug (list :type "mmutrace" :request "launch" :name "mmutrace-emacs" :program file :stopOnEntry t))
    (mmt-wait (lambda () (> mmt-stops 0)) 60 "the stop on entry")
    (let* ((session (dap--cur-session))
           (entry (car (mmt-top-line session))))
      ;; The seed example's first event is `read 0x401000' on line 13.
      (mmt-check (equal entry 13) (format "stopped on entry at line 13 (got %s)" entry))
      (mmt-step session "next")
      (let ((after (car (mmt-top-line session))))
        (mmt-check (and (integerp after) (> after 13)) (format "a step moves past line 13 (to line %s)" after))
        (mmt-step session "stepBack")
        (let ((back (car (mmt-top-line session))))
          (mmt-check (equal back 13) (format "a step back returns to line 13 (got %s)" back)))
        (mmt-step session "next")
        (let* ((top (mmt-top-line session))
               (scopes (append (mmt-get (mmt-request session "scopes" (list :frameId (cdr top))) "scopes") nil))
               (walk (cl-find-if (lambda (s) (string-prefix-p "Shadow walk" (mmt-get s "name"))) scopes)))
          (mmt-check (equal (car top) after) (format "a step again reaches line %s" after))
          (mmt-check walk (format "a Shadow walk scope (%S)" (mapcar (lambda (s) (mmt-get s "name")) scopes)))
          (when walk
            (let* ((vars (append (mmt-get (mmt-request session "variables" (list :variablesReference (mmt-get walk "variablesReference"))) "variables") nil))
                   (names (mapcar (lambda (v) (mmt-get v "name")) vars))
                   (result (cl-find-if (lambda (v) (equal (mmt-get v "name") "result")) vars)))
              (message "%s:" (mmt-get walk "name"))
              (dolist (v vars) (message "  %s = %s" (mmt-get v "name") (mmt-get v "value")))
              ;; Mode 64: the walk goes through four shadow levels, L4 to L1.
              (mmt-check (equal (mapcar (lambda (n) (substring n 0 2)) (butlast names)) '("L4" "L3" "L2" "L1"))
                         "the shadow walk goes L4, L3, L2, L1")
              ;; The stop is before `read 0x400000' (line 15): the first read (of 0x401000) built the
              ;; shadow path down to the L1 page that both addresses share, but the guest pte of
              ;; 0x400000 is 0, so there is no leaf for it yet.
              (mmt-check (string-match-p "0x400000" (mmt-get walk "name")) "the shadow walk is of 0x400000, the next event's address")
              (mmt-check (string-match-p "→ shadow page" (mmt-get (nth 2 vars) "value")) "the L2 shadow entry points to an L1 shadow page")
              (mmt-check (and result (equal (mmt-get result "value") "no leaf shadow pte: the next access exits"))
                         "the shadow walk ends without a leaf: the next access exits")))))
      (mmt-request session "disconnect" (list :terminateDebuggee t)))))

(condition-case err
    (progn
      (mmt-eglot)
      (mmt-dap))
  (error (mmt-fail (format "error: %s" (error-message-string err)))))

(message "%s" (if (= mmt-failures 0) "all checks passed" (format "%d check(s) failed" mmt-failures)))
(kill-emacs (if (= mmt-failures 0) 0 1))
