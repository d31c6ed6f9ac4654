/* cli/pacing: a mirror of the server's token bucket on battle actions (welcome: rate, burst), so
 * a script paces itself instead of being refused and, refused often, disconnected (see app.h). */
#include "cli/app.h"

#define RL_UNLIMITED 65535        /* welcome "rate" the server announces when it does not limit */
#define RL_REFUSED_PAUSE_MS 1000  /* pause after a rate_limited refusal all the same */

bool pace_is_action(cli_verb verb)
{
    return verb == CLI_FIRE || verb == CLI_MISSILE || verb == CLI_PD || verb == CLI_SAND ||
           verb == CLI_END;
}

static void pace_refill(app *a, int64_t now)
{
    if (!a->rl_rate)
        return;
    /* 10% under the announced rate: the server's clock for the bucket is its loop time. */
    a->rl_milli += (now - a->rl_last) * (int64_t)a->rl_rate * 9 / 10;
    if (a->rl_milli > (int64_t)a->rl_burst * 1000)
        a->rl_milli = (int64_t)a->rl_burst * 1000;
    a->rl_last = now;
}

/* Milliseconds until an action may be sent (0 = now). */
int64_t pace_wait(app *a)
{
    if (!a->rl_rate)
        return 0;
    pace_refill(a, app_now_ms());
    if (a->rl_milli >= 1000)
        return 0;
    return (1000 - a->rl_milli) * 10 / 9 / a->rl_rate + 1;
}

void pace_reset(app *a, const struct proto_welcome *w)
{
    a->rl_rate = w->rate >= RL_UNLIMITED ? 0 : w->rate;
    a->rl_burst = w->burst ? w->burst : 1;
    a->rl_milli = (int64_t)a->rl_burst * 1000;
    a->rl_last = app_now_ms();
}

void pace_take(app *a)
{
    if (a->rl_rate) {
        pace_refill(a, app_now_ms());
        a->rl_milli -= 1000;
    }
}

void pace_refused(app *a)
{
    if (a->rl_rate) {
        a->rl_milli = -(int64_t)RL_REFUSED_PAUSE_MS * a->rl_rate; /* the server's bucket is empty */
        a->rl_last = app_now_ms();
    }
}
