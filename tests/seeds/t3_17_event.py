# Seed tutorial 003, "进程同步(信号传递-Event)".
# Changed for the test: e.wait(0.2) and time.sleep(0.3) instead of 2 and 3 s.
#encoding=utf-8

import multiprocessing
import time

def wait_for_event(e):
    print('wait_for_event: starting')
    e.wait()                                #等待收到能执行信号,如果一直未收到将一直阻塞
    print('wait_for_event: e.is_set()->', e.is_set())

def wait_for_event_timeout(e, t):
    print('wait_for_event_timeout: starting')
    e.wait(t)                               #等待t秒超时,此时Event的状态仍未未设置,继续执行
    print('wait_for_event_timeout: e.is_set()->', e.is_set())
    e.set()                                 #初始内部标志为真

if __name__ == '__main__':
    e = multiprocessing.Event()
    print("begin,e.is_set()", e.is_set())
    w1 = multiprocessing.Process(name='block', target=wait_for_event, args=(e,))
    w1.start()

    w2 = multiprocessing.Process(name='nonblock', target=wait_for_event_timeout,args=(e, 0.2))
    w2.start()
    print('main: waiting before calling Event.set()')
    time.sleep(0.3)
    #e.set()   #可注释此句话看效果
    print('main: event is set')
