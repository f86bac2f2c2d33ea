# Seed tutorial 003, "进程同步(信号传递-Event)", the second program.
# Changed for the test: e.wait(0.2) and time.sleep(0.3) instead of 2 and 3 s.
#encoding=utf-8

import multiprocessing
import time

def wait_for_event(e):
    print('wait_for_event: starting')
    e.wait()
    print('wait_for_event: e.is_set()->', e.is_set())

def wait_for_event_timeout(e, t):
    print('wait_for_event_timeout: starting')
    e.wait(t)
    print('wait_for_event_timeout: e.is_set()->', e.is_set())
    e.set()

if __name__ == '__main__':
    e = multiprocessing.Event()
    print("begin,e.is_set()", e.is_set())
    w1 = multiprocessing.Process(name='block', target=wait_for_event, args=(e,))
    w1.start()

    w2 = multiprocessing.Process(name='block', target=wait_for_event, args=(e,))
    w2.start()

    w3 = multiprocessing.Process(name='nonblock', target=wait_for_event_timeout,args=(e, 0.2))
    w3.start()

    print('main: waiting before calling Event.set()')
    time.sleep(0.3)
    #e.set()   #可注释此句话看效果
    print('main: event is set')
